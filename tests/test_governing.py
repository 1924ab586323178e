"""Which rule governs, on tiny corpora with the fake embedder: the governing text's own provision
on the asked point is quoted beside the lower rule's."""

from __future__ import annotations

from dataclasses import replace

from test_trust import small_library

from qa.answer_types import question_form
from qa.governing import with_governing_quote
from qa.sentences import Sentence
from qa.text import tokenize

REPORTS_REGULATION = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
doc_number: 中华人民共和国国务院令第775号
date: 2024-02-04
---

第十八条　任何单位和个人对违反本条例规定的行为，有权向生态环境主管部门和其他负有监督管理职责的部门举报。

第二十二条　重点排放单位在年度排放报告编制过程中篡改、伪造排放数据资料的，处50万元以上200万元以下的罚款。

第二十五条　重点排放单位排放数据的原始记录应当至少保存5年。
"""

REPORTS_MEASURES = """---
title: 碳排放权交易管理办法（试行）
issuer: 生态环境部
doc_number: 生态环境部令第19号
date: 2020-12-31
---

第三十六条　公民、法人和其他组织发现重点排放单位有违反本办法规定行为的，有权向设区的市级以上地方生态环境主管部门举报。

第三十九条　重点排放单位虚报、瞒报排放数据的，处一万元以上三万元以下的罚款。
"""


def test_the_governing_rules_counterpart_is_quoted_not_its_best_match(
    tmp_path, fake_embedder, monkeypatch
):
    """The 办法's 举报 article is quoted; the search put the 条例's penalty article first among
    the 条例's, but its 举报 article, also found, is the one that governs the question."""
    library = small_library(tmp_path, fake_embedder, monkeypatch,
                            {"regulation.md": REPORTS_REGULATION,
                             "measures.md": REPORTS_MEASURES})  # fmt: skip
    question = "发现重点排放单位排放数据造假，可以向哪些部门举报？"
    passages = library.search(question, 5)
    by_article = {p.text.split("\u3000")[0]: p for p in passages}
    # equally scored, so that the words the question asks with decide
    order = [replace(by_article[a], score=1.0) for a in ("第二十二条", "第三十六条", "第十八条")]
    measures = order[1].text
    picked = [Sentence(1, 0, len(measures), measures)]
    terms = tokenize(question)
    vector = library.embedder.embed_queries([question])[0]
    quoted = with_governing_quote(library, vector, order, picked, terms, question_form(question),
                                  {order[0].passage_id}, question=question)  # fmt: skip
    assert order[quoted[0].rank].text.startswith("第十八条")
    assert quoted[0].text.endswith("举报。") and quoted[1:] == picked
