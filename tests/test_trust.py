"""Answers a policy reader can trust, on tiny corpora with the fake embedder: the article asked
for, whole provisions, the governing rule first, repealed texts flagged, honest refusals."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from qa import Index, answer, build_index, retrieve
from qa.render import ask_payload, sources_html
from qa.search import Passage
from qa.sentences import Sentence
from qa.years import with_year_leads

REGULATION = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
doc_number: 中华人民共和国国务院令第775号
date: 2024-02-04
---

中华人民共和国国务院令第775号

《碳排放权交易管理暂行条例》已经国务院常务会议通过，现予公布，自2024年5月1日起施行。

总理　李强
2024年1月25日

**第一条**　为了规范碳排放权交易及相关活动，制定本条例。

**第二条**　本条例自2024年5月1日起施行。

**第三条**　重点排放单位有下列情形之一的，由生态环境主管部门责令改正，处50万元以上200万元以下的罚款；拒不改正的，可以责令停产整治：

（一）未按照规定统计核算温室气体排放量；

（二）在年度排放报告编制过程中篡改、伪造数据资料；

（三）未按照规定制作和送检样品。

**第四条**　技术服务机构出具虚假检验检测报告的，处2万元以上10万元以下的罚款。
"""

MEASURES = """---
title: 碳排放权交易管理办法（试行）
issuer: 生态环境部
doc_number: 生态环境部令第19号
date: 2020-12-31
---

第一条　为规范全国碳排放权交易及相关活动，制定本办法。

第二条　重点排放单位虚报、瞒报温室气体排放报告的，处一万元以上三万元以下的罚款。

第三条　本办法自2021年2月1日起施行。
"""

OPINIONS = """---
title: 关于做好碳达峰碳中和工作的意见
issuer: 中共中央、国务院
doc_number: 中发〔2021〕36号
date: 2021-10-24
---

实现碳达峰、碳中和，是党中央作出的重大战略决策。

## 一、总体要求

坚持全国统筹、节约优先、双轮驱动。

## 二、主要目标

到2025年，绿色低碳循环发展的经济体系初步形成。单位国内生产总值能耗比2020年下降13.5%；单位国内生产总值二氧化碳排放比2020年下降18%；非化石能源消费比重达到20%左右。

到2030年，经济社会发展全面绿色转型取得显著成效。单位国内生产总值二氧化碳排放比2005年下降65%以上；非化石能源消费比重达到25%左右，风电、太阳能发电总装机容量达到12亿千瓦以上。

## 三、深度调整产业结构

（六）推动产业结构优化升级。制定能源、钢铁、有色金属、石化化工、建材、交通、建筑等行业和领域碳达峰实施方案。

（七）坚决遏制高耗能高排放项目盲目发展。新建、扩建钢铁、水泥、平板玻璃、电解铝等高耗能高排放项目严格落实产能等量或减量置换。
"""

NEW_REVIEW = """---
title: 节能审查和碳排放评价办法
issuer: 国家发展和改革委员会
---

第一条　为加强固定资产投资项目节能审查，制定本办法。

第二条　节能审查机关应当在受理后二十个工作日内出具审查意见。

第三条　本办法自2025年9月1日起施行。原《节能审查办法》同时废止。
"""

OLD_REVIEW = """---
title: 节能审查办法
issuer: 国家发展和改革委员会
doc_number: 国家发展和改革委员会令2023年第2号
---

第一条　为加强固定资产投资项目节能管理，制定本办法。

第二条　节能审查机关应当在受理后十五个工作日内出具节能审查意见。

第三条　本办法自2023年6月1日起施行。
"""


def small_library(tmp_path: Path, fake_embedder, monkeypatch, files: dict[str, str]) -> Index:
    """An index of `files` ({name: text}) built with the fake embedder."""
    # The no-answer cosine floor is calibrated for the real model; the bigram-hash fake scores
    # lower, so only the lexical evidence decides here (as in tests/test_answer.py).
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


@pytest.fixture
def library(tmp_path: Path, fake_embedder, monkeypatch) -> Index:
    return small_library(tmp_path, fake_embedder, monkeypatch,
                         {"regulation.md": REGULATION, "measures.md": MEASURES,
                          "opinions.md": OPINIONS, "review-new.md": NEW_REVIEW,
                          "review-old.md": OLD_REVIEW})  # fmt: skip


@pytest.mark.parametrize("question", ["是什么？", "为什么？", "请问", "ok", "那它呢？", "？？"])
def test_a_question_without_content_is_declined_with_a_hint(library, question):
    result = answer(question, index=library)
    assert not result.found and not result.citations
    assert "完整" in result.text or "complete" in result.text


def test_an_article_asked_by_number_is_quoted_whole(library):
    result = answer("条例第三条是怎么规定的？", index=library)
    assert result.found
    first = result.citations[0].passage
    assert (first.doc_id, first.provision) == ("regulation.md", "第三条")
    for part in (
        "50万元以上200万元以下",
        "（一）未按照规定统计核算",
        "（三）未按照规定制作和送检样品",
    ):
        assert part in result.text
    assert "《碳排放权交易管理暂行条例》第三条" in first.citation


@pytest.mark.parametrize(
    "question",
    ["What does Article 3 of the interim regulations say?", "interim regulations art. 3"],
)
def test_an_article_asked_in_english_is_looked_up_exactly(library, question):
    result = answer(question, index=library)
    first = result.citations[0].passage
    assert (first.doc_id, first.provision) == ("regulation.md", "第三条")
    assert "（三）未按照规定制作和送检样品" in result.text


@pytest.mark.parametrize("question", ["意见第七条是怎么规定的？", "碳达峰碳中和意见（七）讲了什么"])
def test_a_numbered_part_of_a_policy_text_is_looked_up_as_its_article(library, question):
    result = answer(question, index=library)
    assert [c.passage.provision for c in result.citations] == [
        "（七）坚决遏制高耗能高排放项目盲目发展"
    ]
    assert "产能等量或减量置换" in result.text


def test_a_part_asked_by_its_number_lists_its_items(library):
    result = answer("碳达峰碳中和意见第三部分讲了什么？", index=library)
    assert {c.passage.doc_id for c in result.citations} == {"opinions.md"}
    assert "（六）推动产业结构优化升级" in result.text and "（七）坚决遏制" in result.text


def test_an_article_of_a_legal_text_named_beside_a_policy_text_is_still_its_article(library):
    from qa.provisions import lookup_article

    found = lookup_article(
        library, "意见和条例的第三条怎么规定？", ["opinions.md", "regulation.md"]
    )
    assert {(p.doc_id, p.provision) for p in found} == {("regulation.md", "第三条")}


def test_a_part_a_policy_text_does_not_have_is_declined(library):
    assert not answer("碳达峰碳中和意见第九条是怎么规定的？", index=library).found


TITLES = [
    {"doc_id": "ccer.md", "title": "温室气体自愿减排交易管理办法（试行）"},
    {"doc_id": "ets.md", "title": "碳排放权交易管理办法（试行）"},
    {"doc_id": "regulation.md", "title": "碳排放权交易管理暂行条例"},
]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What does article 20 of the voluntary emission reduction measures say?", ["ccer.md"]),
        ("Article 20 of the measures for voluntary greenhouse gas reduction", ["ccer.md"]),
        ("What do the measures say about trading?", []),  # two 办法 share those words
    ],
)
def test_an_english_question_names_a_document_by_its_title_words(question, named):
    from qa.crosslingual import english_terms
    from qa.naming import named_in_english

    assert named_in_english(english_terms(question), TITLES) == named


def test_an_article_a_named_text_does_not_have_is_declined(library):
    assert not answer("条例第九十九条是怎么规定的？", index=library).found


def test_an_item_brings_the_lead_in_that_carries_the_penalty(library):
    result = answer("重点排放单位篡改、伪造数据资料会受到什么处罚？", index=library)
    assert result.found
    assert "篡改、伪造数据资料" in result.text
    assert "50万元以上200万元以下的罚款" in result.text  # the lead-in, not the item alone
    assert result.citations[0].passage.doc_id == "regulation.md"


def test_the_governing_rule_leads(library, monkeypatch):
    # "About as close" is calibrated for the real model's cosines, not the fake's. (The 另见
    # quote of the other rule is asserted on the real corpus: test_policy_answers.py.)
    monkeypatch.setattr(importlib.import_module("qa.governing"), "CLOSE_COSINE", 1.0)
    result = answer("重点排放单位虚报排放报告怎么处罚？", index=library)
    assert result.found
    assert result.citations[0].passage.doc_id == "regulation.md"
    assert "50万元以上200万元以下" in result.text and "一万元以上三万元以下" not in result.text


def test_a_lower_rule_named_by_the_question_leads_and_the_governing_one_follows(
    library, monkeypatch
):
    monkeypatch.setattr(importlib.import_module("qa.governing"), "CLOSE_COSINE", 1.0)
    result = answer("按照碳排放权交易管理办法（试行），重点排放单位虚报排放报告怎么处罚？",
                    index=library)  # fmt: skip
    assert result.found
    assert result.citations[0].passage.doc_id == "measures.md"
    assert result.text.startswith("第二条") and "一万元以上三万元以下" in result.text
    # The rule that governs it is quoted after, and the note says which prevails.
    assert "另见" in result.text and "50万元以上200万元以下" in result.text
    assert "效力优先于所问的《碳排放权交易管理办法（试行）》" in result.text


def test_a_signature_answers_who_holds_which_title(library):
    # 总理　李强 is five characters, a line of its own, and its title is spaced out in others
    # (部　长　　黄润秋): it must still be a sentence that can be quoted.
    # One passage holds 李强: a lone lexical hit has no spread of BM25 scores to be scaled by,
    # and must still lead a lexical search.
    assert "李强" in library.search("李强", k=1, mode="lexical")[0].text
    result = answer("李强担任什么职务？", index=library)
    assert result.found
    assert "总理　李强" in result.text
    assert result.citations[0].passage.doc_id == "regulation.md"


def test_who_signed_it_is_answered_by_the_signature_not_its_date(library):
    result = answer("碳排放权交易管理暂行条例落款签发的总理是谁？", index=library)
    assert "总理　李强" in result.text
    from qa.doc_questions import signing_date_quotes

    # 落款 asks the date only when no person is asked for
    who = "碳排放权交易管理暂行条例落款签发的总理是谁？"
    assert signing_date_quotes(library, who, ["regulation.md"]) == []


def test_a_persons_title_is_looked_up_not_judged(library):
    from qa.doc_questions import title_quotes

    for question in ("李强担任什么职务？", "李强是什么职务", "李强的职务是什么？", "李强是谁？"):
        [(passage, start, end)] = title_quotes(library, question)
        assert passage.text[start:end].startswith("总理　李强"), question
    assert title_quotes(library, "部长是谁？") == []  # asks a name, not a title
    assert title_quotes(library, "王五担任什么职务？") == []  # no text names him
    # a question that asks more than the title goes to the search
    assert title_quotes(library, "李强签署的条例什么时候施行？") == []


def test_what_happens_if_asks_for_the_penalty():
    from qa.answer_types import question_form

    assert question_form("重点排放单位没按时清缴配额会怎样？") == "penalty"
    assert question_form("虚报排放数据会怎么样？") == "penalty"


def test_a_spaced_out_title_is_a_title():
    from qa.answer_types import TITLES

    assert TITLES.search("部　长　　黄润秋") and TITLES.search("副司长陆新明")
    assert not TITLES.search("部门负责的事项")


def test_a_title_word_shared_with_the_topic_does_not_name_a_document():
    from qa.naming import named_as_documents, named_documents

    documents = [
        {"doc_id": "notice", "title": "关于做好2025年全国碳排放权交易市场有关工作的通知"},
        {"doc_id": "measures", "title": "碳排放权交易管理办法（试行）"},
        {"doc_id": "plan", "title": "甲烷排放控制行动方案"},
    ]
    topic = "操纵全国碳排放权交易市场的，罚款多少？"
    assert named_documents(topic, documents) == ["notice"]  # shares ten characters of its title
    assert named_as_documents(topic, documents) == []  # but doesn't name it as a document
    assert named_as_documents("2026年度数据质量控制方案什么时候完成？", documents) == []
    assert named_as_documents("按照碳排放权交易管理办法（试行），", documents) == ["measures"]
    assert named_as_documents("2025年碳市场通知里有什么要求？", documents) == ["notice"]
    assert named_as_documents("甲烷方案提出了哪些目标？", documents) == ["plan"]


def test_a_section_asked_by_name_is_quoted_with_its_figures(library):
    result = answer("碳达峰碳中和意见提出了哪些主要目标？", index=library)
    assert result.found
    assert all(c.passage.provision == "二、主要目标" for c in result.citations)
    for figure in ("13.5%", "65%以上", "25%左右", "12亿千瓦"):
        assert figure in result.text


def test_an_enumeration_is_not_cut_at_a_semicolon(library):
    result = answer("到2025年单位国内生产总值能耗要下降多少？", index=library)
    assert result.found and "13.5%" in result.text
    # The clause with the figure ends in ；: its sentence is quoted to its end.
    assert "非化石能源消费比重达到20%左右。" in result.text


def test_a_repealed_text_is_marked_and_flagged(library):
    statuses = {d: a.status for d, a in library.authorities().items()}
    assert statuses["review-old.md"] == "已废止"
    assert statuses["review-new.md"] == "现行有效"
    old = answer("节能审查办法第二条是怎么规定的？", index=library)
    assert old.citations and old.citations[0].passage.doc_id == "review-old.md"
    assert "已废止" in old.text
    cards = sources_html(old, 0)
    assert "qa-repealed" in cards and "已废止" in cards


def test_in_force_only_leaves_repealed_texts_out(library):
    found = library.search("节能审查机关出具审查意见的期限", k=10, in_force=True)
    assert found and all(p.doc_id != "review-old.md" for p in found)
    result = answer("节能审查意见多少个工作日内出具？", index=library, in_force=True)
    assert all(c.passage.doc_id != "review-old.md" for c in result.citations)


_CLEARING = """# 清缴规定

**第二十四条**　重点排放单位未按照规定清缴其碳排放配额的，由生态环境主管部门责令改正，处5倍以上10倍以下的罚款；拒不改正的，等量核减其下一年度碳排放配额，可以责令停产整治。
"""
_REVIEW = """# 节能审查

**第一条**　为加强节能管理，制定本办法。

**第二十七条**　验收不合格，擅自投入生产、使用的固定资产投资项目，由管理节能工作的部门责令建设单位限期整改。不能整改、整改不到位或逾期不整改的，依照有关法律法规处罚。

**第三十条**　本办法自2023年6月1日起施行。
"""


# 拒不改正 goes on from 责令改正, 不能整改…的 from 责令…限期整改: the answer says what was
# ordered first (and the fine).
@pytest.mark.parametrize(("rules", "question", "before", "after"), [
    (_CLEARING, "拒不改正的会被责令停产整治吗？", "5倍以上10倍以下的罚款", "拒不改正的"),
    (_REVIEW, "整改不到位的依照什么处罚？", "责令建设单位限期整改", "不能整改"),
])  # fmt: skip
def test_a_clause_that_goes_on_brings_the_one_before(
    tmp_path, fake_embedder, monkeypatch, rules, question, before, after
):
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    result = answer(question, index=index)
    assert result.found and before in result.text
    assert result.text.index(before) < result.text.index(after)


def test_a_list_question_quotes_a_short_article_whole(tmp_path, fake_embedder, monkeypatch):
    rules = """# 机构管理

**第一条**　审定与核查机构应当每年向主管部门提交工作报告，并对报告内容的真实性负责。

报告应当写明遵守技术规范、从事核查活动和从业人员工作的情况。

**第二条**　审定与核查机构的目录由国务院生态环境主管部门确定。

**第三条**　本办法自2023年10月19日起施行。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    # the list asked for is in the article's second 款, which shares few of the question's words
    listed = answer("审定与核查机构每年向主管部门提交工作报告，要写哪几项？", index=index)
    assert listed.found and "从业人员工作的情况" in listed.text
    assert listed.text.index("提交工作报告") < listed.text.index("从业人员工作的情况")
    # asked one thing, the article's other 款 are not quoted
    single = answer("审定与核查机构每年向主管部门提交工作报告吗？", index=index)
    assert single.found and "从业人员工作的情况" not in single.text


def test_an_article_quoted_whole_is_read_but_not_weighed(tmp_path, fake_embedder, monkeypatch):
    rules = """# 禁燃区

**第一条**　城市人民政府可以划定高污染燃料禁燃区。高污染燃料的目录由国务院生态环境主管部门确定。

在禁燃区内，已建成的燃用高污染燃料的设施，应当在规定的期限内改用天然气、电或者其他清洁能源。

**第二条**　本办法自2016年1月1日起施行。

**第三条**　本办法由生态环境部负责解释。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    # the article's first 款 leaves a list (the fuels' 目录) to another instrument; the list
    # asked for (the energies) is in the quoted 款: the answer stands
    result = answer("禁燃区里已建成的燃用高污染燃料的设施，要改用哪些能源？", index=index)
    assert result.found and "天然气、电" in result.text and "目录" in result.text


def test_what_follows_an_uncorrected_breach_is_quoted_when_asked(
    tmp_path, fake_embedder, monkeypatch
):
    rules = """# 处罚规定

**第三十九条**　重点排放单位虚报、瞒报温室气体排放报告的，由生态环境主管部门责令限期改正，处一万元以上三万元以下的罚款。逾期未改正的，由省级生态环境主管部门测算其温室气体实际排放量，并将该排放量作为碳排放配额清缴的依据。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    asked = answer("重点排放单位虚报排放报告，罚款后逾期还不改正，会怎么处理？", index=index)
    # the fine alone doesn't say what happens next; the clause that goes on does
    assert asked.found and "测算其温室气体实际排放量" in asked.text
    assert asked.text.index("一万元以上三万元以下") < asked.text.index("逾期未改正的")
    # a question about the first penalty is not sent on to what follows it
    first = answer("重点排放单位虚报排放报告罚款多少？", index=index)
    assert first.found and "逾期未改正的" not in first.text


def test_a_case_the_question_adds_brings_the_sentence_that_rules_it():
    from qa.quotes import with_asked_sequel
    from qa.search import Passage
    from qa.sentences import Sentence
    from qa.text import sentence_spans

    text = ("第二十五条 以拆分项目等不正当手段通过节能审查的项目，由节能审查机关撤销项目的节能审查意见。"
            "项目已开工建设或投入生产、使用的，按本办法第二十四条有关规定进行处罚。"
            "节能审查机关应当加强事中事后监管。")  # fmt: skip
    passage = Passage(text=text, doc_id="rules.md", title="节能审查办法", source=None, date=None,
                      paragraph=1, score=1.0)  # fmt: skip
    start, end = sentence_spans(text)[0]
    lead = [Sentence(0, start, end, text[start:end])]
    added = with_asked_sequel(
        [passage], lead, "靠拆分项目通过了节能审查，而且已经开工建设了，怎么处理？"
    )
    assert [s.text for s in added][1].startswith("项目已开工建设")
    # asked without that case, the lead quote answers alone
    assert with_asked_sequel([passage], lead, "靠拆分项目通过了节能审查会怎么处理？") == lead


def test_figures_of_another_year_are_not_quoted_beside_the_asked_one(
    tmp_path, fake_embedder, monkeypatch
):
    targets = """# 主要目标

到2025年，绿色低碳循环发展的经济体系初步形成。森林覆盖率达到24.1%，森林蓄积量达到180亿立方米。到2030年，经济社会发展全面绿色转型取得显著成效。森林覆盖率达到25%左右，森林蓄积量达到190亿立方米。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"targets.md": targets})
    asked_2025 = answer("到2025年森林覆盖率要达到多少？", index=index)
    assert "24.1%" in asked_2025.text and "25%左右" not in asked_2025.text
    asked_2030 = answer("2030年森林覆盖率目标是多少？", index=index)
    assert "25%左右" in asked_2030.text and "24.1%" not in asked_2030.text
    from dataclasses import replace

    from qa.sentences import Sentence
    from qa.years import of_asked_year

    # A sentence that names the asked year speaks of it, whatever year leads its paragraph.
    text = "到2025年，畜禽粪污综合利用率达到80%以上，2030年达到85%以上。到2026年，完成评估。"
    passage = replace(asked_2030.citations[0].passage, text=text)
    manure, review = text.index("到2025年"), text.index("到2026年")
    named = Sentence(0, manure, review, text[manure:review])
    other = Sentence(0, review, len(text), text[review:])
    question = "2030年畜禽粪污综合利用率目标是多少？"
    assert of_asked_year([passage], [other, named], question) == [named]


def test_a_figure_of_another_measure_does_not_answer(library):
    assert answer("到2030年风电、太阳能发电总装机容量要达到多少？", index=library).found
    # 装机容量 is stated; 发电量, of the same things in the same year, is not.
    assert not answer("到2030年风电、太阳能发电总发电量要达到多少？", index=library).found


def test_a_plan_period_is_answered_from_what_is_said_of_it(tmp_path, fake_embedder, monkeypatch):
    goals = """# 主要目标

到2025年，煤矿瓦斯年利用量达到60亿立方米；油田伴生气集气率达到国际先进水平。

“十五五”期间，甲烷排放控制政策、技术和标准体系进一步完善，甲烷排放控制能力有效提高。煤矿瓦斯利用水平进一步提高，种植业单位农产品甲烷排放强度进一步降低。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"goals.md": goals})
    later = answer("“十五五”期间煤矿瓦斯利用要达到什么目标？", index=index)
    # 2025 is in the 十四五, not the 十五五: its figure is not this period's target
    assert later.found and "煤矿瓦斯利用水平进一步提高" in later.text
    assert "60亿立方米" not in later.text
    now = answer("“十四五”期间煤矿瓦斯年利用量要达到多少？", index=index)
    assert now.found and "60亿立方米" in now.text and "十五五" not in now.text


def test_targets_asked_for_two_years_are_quoted_for_each(tmp_path, fake_embedder, monkeypatch):
    goals = """# 主要目标

到2025年，绿色低碳循环发展的经济体系初步形成，重点行业能源利用效率大幅提升。单位国内生产总值能耗比2020年下降13.5%；单位国内生产总值二氧化碳排放比2020年下降18%；森林覆盖率达到24.1%。

到2030年，经济社会发展全面绿色转型取得显著成效，重点耗能行业能源利用效率达到国际先进水平。单位国内生产总值能耗大幅下降；单位国内生产总值二氧化碳排放比2005年下降65%以上；森林覆盖率达到25%左右。

“十四五”期间，甲烷排放控制政策逐步建立，基础能力有效提升。种植业、养殖业单位农产品甲烷排放强度稳中有降。

“十五五”期间，甲烷排放控制政策进一步完善，基础能力明显提升。种植业、养殖业单位农产品甲烷排放强度进一步降低。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"goals.md": goals})
    # each year's paragraph answers for its year, though no one paragraph names both
    forest = answer("森林覆盖率2025年和2030年分别定了什么目标？", index=index)
    assert forest.found
    assert forest.text.index("24.1%") < forest.text.index("25%左右")  # in the years' order
    periods = answer("单位农产品甲烷排放强度“十四五”和“十五五”期间的要求有什么不同？", index=index)
    assert "稳中有降" in periods.text and "进一步降低" in periods.text


def test_asked_which_organ_a_sentence_naming_one_is_not_about_another_actor(
    tmp_path, fake_embedder, monkeypatch
):
    rules = """# 数据质量条例

**第十条**　重点排放单位篡改、伪造排放数据的，由生态环境主管部门责令改正。任何单位和个人发现篡改数据的，有权向生态环境主管部门举报。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    result = answer("重点排放单位篡改、伪造排放数据，可以向哪个部门举报？", index=index)
    assert result.found and "有权向生态环境主管部门举报" in result.text


def test_a_figure_the_question_quotes_names_the_provision(tmp_path, fake_embedder, monkeypatch):
    from dataclasses import replace

    from qa.sentences import select_sentences
    from qa.text import tokenize

    rules = """# 交易条例

**第二十二条**　重点排放单位有下列情形之一的，由生态环境主管部门责令改正，没收违法所得，并处违法所得5倍以上10倍以下的罚款：

（一）未按照规定统计核算温室气体排放量；

（二）未按照规定制作和送检样品。

**第二十五条**　对操纵全国碳排放权交易市场的行为，由国务院生态环境主管部门责令改正，没收违法所得，并处违法所得1倍以上10倍以下的罚款。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})
    question = "哪几种行为会被没收违法所得、并处违法所得5倍以上10倍以下的罚款？"
    # as found, but with one score: only the sentences' own words and figures tell them apart
    found = [replace(p, score=1.0) for p in index.search(question, k=5)]
    vector = index.embedder.embed_queries([question])[0]
    best = select_sentences(index, vector, found, tokenize(question), "list", question=question)[0]
    assert best.text.startswith("第二十二条")


@pytest.mark.parametrize(
    "question",
    ["碳排放权交易机构的员工能不能买卖碳排放配额？", "重点排放单位可以用核证自愿减排量抵销配额吗？",
     "Can a project under a carbon allowance scheme register as a voluntary project?",
     "Do developers have to pay a fee for the review?"],
)  # fmt: skip
def test_may_one_is_answered_by_a_rule_that_allows_or_bars(question):
    from qa.answer_types import FORMS, question_form

    assert question_form(question) == "may"
    says = next(pattern for name, _, pattern in FORMS if name == "may")
    assert says.search("纳入配额管理的项目，不得申请温室气体自愿减排项目登记。")
    assert not says.search("申请登记的温室气体自愿减排项目应当有利于降碳增汇。")


def test_a_list_left_to_another_instrument_is_not_in_the_texts():
    from qa.stated import leaves_to_another

    quote = ["高污染燃料的目录由国务院生态环境主管部门确定。"]
    assert leaves_to_another("高污染燃料的目录里具体列了哪些燃料？", quote, "list")
    assert not leaves_to_another("高污染燃料的目录由哪个部门确定？", quote, "who")
    # a word every rule shares (项目) doesn't make the deferred list the asked one
    fine = ["对整改不到位的生产性项目，由管理节能工作的部门报请本级人民政府按照权限责令关闭。"]
    assert not leaves_to_another(
        "法律责任一章规定了哪些情形和后果？哪些项目会被关闭？", fine, "list"
    )


def test_an_amount_in_ten_thousands_of_a_unit_needs_that_unit():
    from qa.answer_types import question_form, required_shape

    question = "到2025年要新建多少万平方米超低能耗建筑？"
    shape = required_shape(question, question_form(question))
    assert shape is not None and shape.search("新建超低能耗建筑5000万平方米")
    assert not shape.search("单位国内生产总值能耗比2020年下降13.5%")


def test_a_year_asked_beside_a_period_is_asked_too():
    from qa.years import asked_year_groups

    groups = asked_year_groups("煤矿瓦斯利用，2025年和“十五五”期间分别提了什么目标？")
    assert groups == [frozenset({"2025"}), frozenset(map(str, range(2026, 2031)))]
    assert len(asked_year_groups("“十四五”和2030年的目标有什么不同？")) == 2
    # a run of years is asked through, whichever of them the asking words follow
    run = asked_year_groups("非化石能源消费比重在2025年、2030年、2060年三个时间点分别要到多少？")
    assert run == [frozenset({"2025"}), frozenset({"2030"}), frozenset({"2060"})]


def test_a_year_asked_after_a_premise_is_asked_beside_it():
    from qa.years import asked_years

    question = "双碳意见里说2025年森林蓄积量要到180亿吨，对吧？那2030年呢？"
    assert asked_years(question) == {"2025", "2030"}
    assert asked_years("2020年的试行办法呢？") == set()


def test_an_english_target_year_is_asked_too():
    from qa.years import asked_years

    assert asked_years("What forest coverage target does the opinion set for 2030?") == {"2030"}
    assert asked_years("How far should energy intensity fall by 2025?") == {"2025"}
    # a document's year is not an asked one
    assert asked_years("Under China's 2024 interim regulations, who verifies reports?") == set()


def test_an_english_question_for_a_definition_quotes_it(tmp_path, fake_embedder, monkeypatch):
    rules = """# 温室气体自愿减排交易管理办法

**第十条**　申请登记的项目应当符合保守性原则。

**第三十条**　项目方法学应当界定保守性原则的适用情形，并规定相应的核算措施。

**第五十条**　本办法中下列用语的含义：

保守性，是指在减排量核算过程中存在不确定性时，应当采用保守方式进行估计、取值等，确保项目减排量不被过高计算。
"""
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"ccer.md": rules})
    # the defining sentence itself, looked up as a Chinese 保守性的含义 is
    for question in ("What does 'conservativeness' mean in the measures?",
                     "How do the 2023 CCER rules define 'conservativeness'?",
                     "How do the measures define conservativeness?"):  # fmt: skip
        result = answer(question, index=index)
        assert result.found and result.text.startswith("保守性，是指"), question
        assert "符合保守性原则" not in result.text  # using the word is not defining it


def test_who_is_answered_by_a_quote_that_names_an_organ():
    from qa.answer_types import question_form, required_shape

    question = "这个基金由哪个部门牵头设立和管理？"
    shape = required_shape(question, question_form(question))
    assert shape is not None
    assert not shape.search("研究设立国家低碳转型基金。鼓励社会资本设立绿色低碳产业投资基金。")
    assert shape.search("碳达峰碳中和工作领导小组指导和统筹做好碳达峰、碳中和工作。")
    assert shape.search("工作中遇到的问题及相关意见建议，请及时反馈我部。")


def test_which_thing_of_a_kind_needs_one_named():
    from qa.stated import names_asked_kind

    question = "核查结果向社会公开，具体是在哪个网站上公开？"
    assert not names_asked_kind(question, ["核查结果应当向社会公开。"])
    assert names_asked_kind(
        question, ["通过全国碳市场管理平台（网址为https://www.cets.org.cn）公布"]
    )
    # an organ is named by what organs are called (生态环境部), not only by 部门
    assert names_asked_kind("由哪个部门负责？", ["生态环境部负责制定技术规范。"])
    assert names_asked_kind("由哪个机构统筹？", ["碳达峰碳中和工作领导小组指导和统筹。"])
    assert not names_asked_kind("由哪个部门牵头？", ["研究设立国家低碳转型基金。"])
    # grades are named as grades (一级, A级), not by 省级
    grades = "碳排放评价结果分为哪几个等级？"
    assert not names_asked_kind(grades, ["省级有关部门对项目的联合评估论证情况"])
    assert names_asked_kind(grades, ["评价结果分为一级、二级和三级。"])
    # a kind no name is asked of (哪些措施, 哪个时期) asks for nothing named
    assert names_asked_kind("有哪些措施？", ["加强监测。"])


def test_an_english_thing_is_a_noun_of_its_translations():
    from qa.stated import english_things

    inspectors, present, sources = (
        frozenset({"检查人员"}),
        frozenset({"出席", "在场"}),
        frozenset({"来源", "源头"}),
    )
    assert english_things([inspectors, present, sources]) == [inspectors, sources]


def test_an_unknown_english_word_is_a_thing_none_of_whose_translations_is_held():
    from qa.stated import english_unknown

    tax, stay, aluminium, steel = (
        frozenset({"碳税"}),
        frozenset({"下榻", "投宿"}),
        frozenset({"铝"}),
        frozenset({"钢铁"}),
    )
    held = {"钢铁": 12, "碳税": 0, "下榻": 0, "投宿": 0, "铝": 0}  # passages holding each
    # a verb (stay → 下榻) is only said otherwise, and 铝 is held inside 电解铝, not as a word
    assert english_unknown([tax, stay, aluminium, steel], held) == ["碳税"]


def test_how_soon_asks_for_a_span_of_time():
    from qa.answer_types import question_form, required_shape

    question = "If an application is incomplete, how soon must the review authority say so?"
    shape = required_shape(question, question_form(question))
    assert shape is not None and question_form(question) == "number"
    assert shape.search("应当当场或者5个工作日内一次告知建设单位需要补正的全部内容")
    assert not shape.search("相关材料不符合要求的，应当一次告知建设单位")


def test_the_measure_a_figure_is_asked_of():
    from qa.answer_types import asked_measure

    assert asked_measure("到2025年煤矿瓦斯抽采量达到多少亿立方米？") == "斯抽采量"
    assert asked_measure("到2030年森林覆盖率要达到多少？") == "林覆盖率"
    # the year may come between the measure and the asking
    assert asked_measure("填埋气体回收利用率到2025年要达到多少？") == "收利用率"
    assert asked_measure("森林覆盖率“十四五”末要达到多少？") == "林覆盖率"
    assert asked_measure("碳价是多少？") is None
    assert asked_measure("审定与核查机构需要具备多少名专职人员？") is None


def test_a_measure_is_stated_under_a_longer_name_of_it():
    from qa.answer_types import QUANTITY
    from qa.stated import states_asked

    question = "我们是铝冶炼企业，年排放量达到多少就会被列入重点排放单位名录？"
    listed = ["对铝冶炼行业年度直接排放量达到2.6万吨二氧化碳当量的单位，应当列入重点排放单位名录。"]
    terms = ["铝冶炼", "重点排放单位", "名录"]
    assert states_asked(listed, QUANTITY, terms, question)
    # another measure of the same thing is no answer
    used = ["到2025年，煤矿瓦斯年利用量达到60亿立方米。"]
    asked = "到2025年煤矿瓦斯抽采量要达到多少？"
    assert not states_asked(used, QUANTITY, ["煤矿", "瓦斯"], asked)


def test_the_act_a_span_is_asked_of():
    from qa.answer_types import _DURATION, asked_act
    from qa.stated import states_asked

    assert asked_act("技术服务机构出具的检验检测报告要保存几年？") == "保存"
    assert asked_act("最多可以申请延期多长时间？") == "延期"
    assert asked_act("被列入名单后，过多久可以申请信用修复？") is None  # not an act
    assert asked_act("每隔多长时间报告一次？") is None
    assert asked_act("省厅又要在多久内给结论？") is None  # 厅又 straddles two words
    banned = ["对其直接负责的主管人员处2万元以上20万元以下的罚款，5年内禁止从事检验检测业务。"]
    terms = ["技术服务机构", "检验检测"]
    assert not states_asked(banned, _DURATION, terms, "检验检测报告要保存几年？")
    assert states_asked(banned, _DURATION, terms, "检验检测业务要禁止从事几年？")


def test_a_span_asked_for_an_act_is_the_span_the_text_gives_that_act():
    from qa.answer_types import asked_span_act, required_shape
    from qa.stated import states_asked

    assert asked_span_act("受理后多少个工作日内必须出具节能审查意见？")[0] == "出具"
    assert asked_span_act("每月结束后多少天内完成？") == []  # finishing is no act
    forward = "Within how many working days must the province forward the application?"
    assert {"转发", "申请"} <= set(asked_span_act(forward))
    told = ["节能审查机关应当当场或者5个工作日内一次告知建设单位需要补正的全部内容。"]
    assert not states_asked(told, required_shape(forward, "number"), [], forward)
    review = ["重点排放单位对分配的碳排放配额有异议的，可以自接到通知之日起七个工作日内，"
              "向分配配额的省级生态环境主管部门申请复核。"]  # fmt: skip
    terms = ["碳排放配额", "重点排放单位"]
    notify = "省级生态环境主管部门确定碳排放配额后，要在几个工作日内书面通知重点排放单位？"
    appeal = "重点排放单位对碳排放配额有异议，几个工作日内可以申请复核？"
    # 自接到通知之日起 starts the span for 申请复核; it is not a span for 通知
    assert not states_asked(review, required_shape(notify, "number"), terms, notify)
    assert states_asked(review, required_shape(appeal, "number"), terms, appeal)
    told = [
        "相关材料不符合要求的，节能审查机关应当当场或者5个工作日内一次告知建设单位需要补正的全部内容。"
    ]
    tell = "材料不合要求的，审查机关几个工作日内要告诉建设单位补正什么？"  # 告诉 is 告知
    assert states_asked(told, required_shape(tell, "number"), ["节能审查机关"], tell)


def test_a_person_asked_by_office_needs_that_office_not_an_organ():
    from qa.answer_types import question_form, required_shape

    signed = "固定资产投资项目节能审查和碳排放评价办法是国家发展改革委哪位主任签署公布的？"
    shape = required_shape(signed, question_form(signed))
    assert not shape.search("国家发展改革委负责实施节能审查的项目") and shape.search("主　任　某某")
    minister = "Who was China's minister of ecology and environment when it was issued?"
    shape = required_shape(minister, question_form(minister))
    assert not shape.search("总理　李强") and shape.search("部　长　　黄润秋")
    # 哪位 of another kind of person (皇帝, 专家) asks no office (CMRC: 北魏宣武帝)
    assert required_shape("高英是哪位皇帝的皇后？", question_form("高英是哪位皇帝的皇后？")) is None


def test_a_holder_of_an_office_asked_needs_that_office():
    from qa.answer_types import question_form, required_shape

    # the 领导小组 is named; its 组长 is not, and a quote of the group doesn't say who leads it
    asked = "碳达峰碳中和工作领导小组的组长是谁？"
    shape = required_shape(asked, question_form(asked))
    assert not shape.search("碳达峰碳中和工作领导小组指导和统筹做好碳达峰、碳中和工作。")
    assert shape.search("组长：某某")


def test_the_year_compared_with_answers_which_year():
    from qa.answer_types import question_form, required_shape

    asked = "到2025年单位GDP二氧化碳排放要比哪一年下降多少？"
    shape = required_shape(asked, question_form(asked))
    assert shape.search("单位国内生产总值二氧化碳排放比2020年下降18%")
    # of another question, a baseline is no year of the event asked
    when = "碳排放权交易管理暂行条例是哪一年施行的？"
    assert not required_shape(when, question_form(when)).search("比2020年下降18%")


def test_words_an_answer_may_use_are_no_asking_words():
    from qa.answer_types import ASKING_WORDS

    # 爱普格评分由几项指标分别构成？ is answered by 五个指标分别为：… (CMRC)
    assert "分别" not in ASKING_WORDS and "数值" in ASKING_WORDS


def test_a_price_the_texts_do_not_state_is_declined(library):
    assert not answer("碳价是多少？", index=library).found


def test_the_ask_payload_carries_provision_and_authority(library):
    payload = ask_payload(answer("条例第三条是怎么规定的？", index=library))
    citation = payload["citations"][0]
    assert citation["provision"] == "第三条"
    assert (citation["level"], citation["status"], citation["effective"]) == (
        "行政法规", "现行有效", "2024-05-01"
    )  # fmt: skip
    assert citation["doc_id"] == "regulation.md"


def test_k_accepts_numpy_integers_and_docs_must_be_ids(library):
    assert answer("条例第三条是怎么规定的？", np.int64(3), index=library).found
    with pytest.raises(ValueError, match="docs"):
        answer("条例第三条是怎么规定的？", index=library, docs=123)
    with pytest.raises(ValueError, match="docs"):
        library.search("罚款", docs=123)
    with pytest.raises(ValueError, match="k must be"):
        retrieve("罚款", k=np.float64(2.0))


def test_who_signed_a_named_regulation_is_quoted_from_its_signature(library):
    result = answer("碳排放权交易管理暂行条例是哪位总理签署公布的？", index=library)
    assert result.found and "总理　李强" in result.text
    assert result.citations[0].passage.doc_id == "regulation.md"


def test_a_figure_must_be_stated_of_the_asked_thing_and_year():
    from qa.answer_types import QUANTITY, required_shape
    from qa.stated import states_asked

    plan = [
        "到2025年，煤矿瓦斯年利用量达到60亿立方米；到2030年，油田伴生气集气率达到国际先进水平。"
    ]
    terms = ["煤矿", "瓦斯", "利用"]
    assert states_asked(plan, QUANTITY, terms, "到2025年煤矿瓦斯年利用量要达到多少？")
    assert states_asked(plan, QUANTITY, terms, "煤矿瓦斯利用量到2025年要达到多少？")  # 年 inside
    # 利用率 of 城市生活垃圾 is not the asked 回收利用率 of 填埋气体.
    landfill = ["到2025年，全国城市生活垃圾资源化利用率达到60%左右。"]
    assert not states_asked(landfill, QUANTITY, ["填埋", "气体", "回收"],
                            "垃圾填埋场的填埋气体回收利用率到2025年要达到多少？")  # fmt: skip
    assert not states_asked(plan, QUANTITY, terms, "到2030年煤矿瓦斯年利用量要达到多少？")
    # 60亿立方米 is said of 煤矿瓦斯, before 油田伴生气 is named: no 2025 figure for the latter.
    gas = ["油田", "伴生气", "集气率"]
    assert not states_asked(plan, QUANTITY, gas, "2025年油田伴生气集气率定了多少目标？")
    # A number in a heading quoted beside the asked thing is not its figure.
    contact = ["（联系人姓名及电话从略。）", "1.2024、2025年度名录制定要求"]
    assert not states_asked(contact, QUANTITY, ["联系人", "电话"], "联系人电话是多少？")
    # A lead-in's figure is said of the items it lists.
    lead_in = ["第二十一条　重点排放单位有下列情形之一的，由生态环境主管部门责令改正，处5万元以上50万元"
               "以下的罚款；拒不改正的，可以责令停产整治：\n（一）未按照规定制定数据质量控制方案；\n"
               "（二）未按照规定报送排放统计核算数据、年度排放报告；"]  # fmt: skip
    fine = required_shape("没有报送排放统计核算数据会被罚多少？", "penalty")
    assert states_asked(
        lead_in, fine, ["统计", "核算", "数据", "报送"], "没有报送核算数据会被罚多少？"
    )
    # Cut before its items, the lead-in's figure is said of nothing asked.
    cut = [lead_in[0].split("：")[0], "重点排放单位应当报送排放统计核算数据。"]
    assert not states_asked(cut, fine, ["统计", "核算", "数据"], "没报核算数据罚多少？")
    # 15日 of 5月15日 is a date, not a count of days
    days = required_shape("开户申请一般几个工作日能审核开通？", None)
    assert not days.search("2025年5月15日前，组织开立管理平台账户")
    assert days.search("收到申请材料之日起十五个工作日内") and days.search("在15日内")
    # A year is when, not how much: 到2025年 states no concentration limit.
    asked = "What COD or organic-matter concentration limit does the plan set for wastewater?"
    assert required_shape(asked, None) is QUANTITY
    capacity = ["到2025年，污染治理与甲烷排放协同控制能力明显提升。"]
    assert not states_asked(capacity, QUANTITY, [frozenset({"污染"})], asked)
    # A rare thing the question names (风险基金, in one article) that the quote doesn't name:
    # its 五万元 is the figure of something else.
    penalty = ["审定与核查机构有下列行为之一的，处五万元以上二十万元以下的罚款："]
    fund = ["审定", "核查", "机构", "风险", "基金"]
    asked = "审定与核查机构的风险基金最少要有多少钱？"
    assert states_asked(penalty, QUANTITY, fund, asked)
    assert not states_asked(penalty, QUANTITY, fund, asked, rare=["基金"])
    # A rare short form is named by the wording it abbreviates: 按规定 by 按照规定.
    lead = ["重点排放单位未按照规定公开年度排放报告的，处5万元以上50万元以下的罚款。"]
    words = ["重点排放单位", "按规定", "公开", "年度排放报告"]
    assert states_asked(lead, QUANTITY, words, "没有按规定公开报告罚多少？", rare=["按规定"])
    # The document's title says what its sentences are about: 牡蒿 for 分布于福建、辽宁….
    spread = ["中国大陆的福建、辽宁、河北、四川等地有分布。"]
    asked = "牡蒿分布在哪些省市？"
    place = required_shape(asked, "list")
    assert not states_asked(spread, place, ["牡蒿", "分布"], asked, rare=["牡蒿"])
    assert states_asked(spread, place, ["牡蒿", "分布"], asked, rare=["牡蒿"], titles=["牡蒿"])
    # The figure may follow in the next sentence of the same quote (它…).
    assert states_asked(
        ["鸡毛松是常绿乔木。它可高达50米。"], QUANTITY, ["鸡毛松"], "鸡毛松有多高？"
    )
    # The rare thing may be named earlier in the quote's paragraph (相关材料 refers back to it).
    notice = ["相关材料不符合要求的，节能审查机关应当当场或者5个工作日内一次告知建设单位。"]
    earlier = ["节能审查申报材料要素齐全的，节能审查机关应当予以受理。"]
    words = ["申报材料", "审查", "机关", "工作日内"]
    asked = "申报材料不合要求的，审查机关几个工作日内要告知？"
    assert not states_asked(notice, QUANTITY, words, asked, rare=["申报材料"])
    assert states_asked(notice, QUANTITY, words, asked, before=earlier, rare=["申报材料"])
    # An English term is named by any of its translations: a merger (合并) the late-surrender
    # fine never mentions is not what that fine is for.
    late = ["第四十条　重点排放单位未按时足额清缴碳排放配额的，处二万元以上三万元以下的罚款。"]
    merge, emitter = frozenset({"合并", "兼并"}), frozenset({"重点排放单位"})
    asked = "What fine does a key emitter face if it merges and never registers the change?"
    assert states_asked(late, QUANTITY, [emitter, merge], asked)
    assert not states_asked(late, QUANTITY, [emitter, merge], asked, rare=[merge])
    merged = ["重点排放单位发生合并的，处一万元罚款。"]
    assert states_asked(merged, QUANTITY, [emitter, merge], asked, rare=[merge])


def test_until_when_is_answered_by_a_span_after_an_event():
    from qa.answer_types import required_shape

    shape = required_shape("原始记录和管理台账要保存到什么时候？", "date")
    assert shape.search("应当在最后一期减排量登记后至少保存十年")
    assert not shape.search("应当妥善保存原始记录和管理台账")


def test_an_unknown_word_is_known_only_when_known_words_make_most_of_it():
    from qa.evidence import _made_of

    assert _made_of("咨询机构", ["咨询", "机构"])
    assert _made_of("原生地", ["原生"])
    assert not _made_of("碳税", ["碳"])


def test_which_year_needs_a_year_not_a_day():
    from qa.answer_types import required_shape

    shape = required_shape("陆新明是哪一年开始担任副司长的？", "date")
    assert shape is not None
    assert not shape.search("11月25日，副司长陆新明表示")
    assert shape.search("2019年起担任副司长")


def test_how_long_needs_a_span_of_time_and_a_fee_needs_money():
    from qa.answer_types import required_shape

    duration = required_shape("最多可以申请延期多长时间？", "number")
    assert duration.search("项目设计文件公示期为二十个工作日")
    assert duration.search("自公布之日起2年内未开工建设")
    assert not duration.search("（三）产生于2020年9月22日之后")
    bonus = required_shape("举报人能拿到多少奖金？", "number")
    assert bonus.search("奖励五千元") and not bonus.search("为举报人保密，反馈处理结果")
    fee = required_shape("申请项目登记要交多少登记费？", "number")
    assert fee.search("处五万元以上二十万元以下的罚款")
    assert not fee.search("（三）产生于2020年9月22日之后")


def test_specifics_asked_of_a_named_list_need_its_items():
    from qa.stated import lists_specifics

    question = "节能服务机构被列入严重失信主体名单后，要受到的联合惩戒措施具体有哪些？"
    stops = ["对列入严重失信主体名单的，依法依规实施联合惩戒措施。"]
    assert not lists_specifics(question, stops, "list")
    items = ["联合惩戒措施包括：限制参与招标投标、暂停审批。"]
    assert lists_specifics(question, items, "list")
    assert lists_specifics(question, stops, "number")  # not a list question
    # a purpose (为了…碳汇) names the goal, not what the list is of
    forest = ["开展耕地质量提升行动，实施国家黑土地保护工程，提升生态农业碳汇。"]
    assert lists_specifics("意见为了多增加森林碳汇，具体点了哪几项行动和工程？", forest, "list")


def test_kinds_singled_out_need_their_members_named():
    from qa.stated import lists_specifics

    question = "他说要开展重点区域、重点企业减排成效评估，他点名了哪些重点区域？"
    # 重点区域 is one of a list here, not followed by the regions
    alike = ["开展重点区域、重点企业甲烷减排成效评估跟踪。"]
    assert not lists_specifics(question, alike, "list")
    named = ["重点区域包括京津冀、长三角和汾渭平原。"]
    assert lists_specifics(question, named, "list")
    # the 为 of 行为 is no purpose: 行为 is what is asked
    act = ["对违法行为依法予以处理。"]
    assert not lists_specifics("行为具体有哪些？", act, "list")


def test_list_items_are_quoted_in_the_lists_order():
    from qa.enumerations import _with_picked_items
    from qa.sentences import Sentence

    lead_in = Sentence(0, 0, 10, "项目情况说明应包括下列内容：")
    third = Sentence(3, 0, 8, "（三）本省项目所属细分产业发展总体情况；")  # picked for its words
    items = [Sentence(rank, 0, 6, f"（{n}）…") for rank, n in zip((1, 2, 3, 4), "一二三四")]
    quoted = _with_picked_items([lead_in, third], 0, items)
    assert [s.rank for s in quoted] == [0, 1, 2, 3, 4]
    assert quoted[3] is third  # the picked item, whole, in its place


def test_the_askers_own_case_is_no_topic_the_rules_must_name():
    from qa.evidence import _case_words

    case = "某电厂差了1万吨配额没清缴，平均成交价是每吨90元，按暂行条例罚款大概在什么区间？"
    assert {"电厂", "万吨", "每吨", "90"} <= _case_words(case)
    assert "配额" not in _case_words(case) and "清缴" not in _case_words(case)
    # the asker speaking of their own firm (我们是规模养猪场, 我们电厂…120万吨)
    assert {"养猪场", "规模"} <= _case_words("我们是规模养猪场，要推广哪几类技术？")
    assert {"电厂", "万吨"} <= _case_words("我们电厂2024年度应清缴的配额是120万吨，能抵销多少？")
    # without a party of the asker's, a quantity is the rule's own threshold
    assert not _case_words("年综合能源消费量1万吨标准煤以上的项目归谁审？")


def test_an_english_unit_and_an_item_number():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    question = "At what level, in billions of tonnes of CO2, will emissions peak?"
    shape = required_shape(question, question_form(question))
    assert shape.search("二氧化碳排放量达到110亿吨") and not shape.search("下降65%以上")
    # 3.…清单 numbers a heading: it is no figure of trading hours
    hours = "What are the daily trading hours of China's national carbon market?"
    hour_shape = required_shape(hours, question_form(hours))
    heading = ["3.全国碳排放权交易市场碳排放核算报告与核查技术规范清单"]
    market = [frozenset({"全国"}), frozenset({"碳市场", "市场"})]
    assert not states_asked(heading, hour_shape, market, hours)
    assert states_asked(["全国碳排放权交易市场每日交易时间为4小时。"], hour_shape, market, hours)


def test_an_english_fine_asked_by_its_size_needs_an_amount():
    from qa.answer_types import question_form, required_shape

    for question in ("What fine does a key emitter face if it merges with another company?",
                     "How big a fine can a company get if its plant uses too much energy?"):  # fmt: skip
        shape = required_shape(question, question_form(question))
        assert shape is not None and shape.search("处二万元以上三万元以下的罚款")
        assert not shape.search("由管理节能工作的部门责令建设单位限期整改。")
    # the kind of penalty asked, not its size: any penalty answers
    assert required_shape("What penalty does a key emitter face for false data?", "penalty") is None


def test_a_place_a_frequency_or_an_english_quantity_needs_one_stated():
    from qa.answer_types import required_shape

    city = required_shape("全国碳排放权注册登记机构设在哪个城市？", None)
    assert city.search("注册登记机构设在湖北省武汉市")
    # 省级, 市场, 所在地省 name no place.
    assert not city.search("报经所在地省级生态环境主管部门审核后，向全国碳排放权交易市场申请")
    assert (
        required_shape("名录要在哪些地方公布？", "list") is None
    )  # 网站, 平台: venues, not places
    often = required_shape("How often must operators carry out leak detection and repair?", "how")
    assert often.search("每季度至少开展一次泄漏检测") and not often.search(
        "推动泄漏检测与修复常态化应用"
    )
    size = required_shape("What is the minimum size of a CCER block trade?", "list")
    assert size is not None and not size.search("交易机构可以制定具体业务规则")
    assert required_shape("What vapour recovery efficiency must petrol stations reach?", "list")
    # Two things asked (how picked, and how often): what is quoted may answer one of them.
    assert required_shape("How are emitters picked for inspection, and how often?", "how") is None


def test_an_article_number_is_not_a_figure_and_another_year_is_not_the_asked_one():
    from qa.answer_types import _DATE, QUANTITY
    from qa.stated import states_asked

    rules = ["第一条 为了规范全国温室气体自愿减排交易，制定本办法。"]
    assert not states_asked(rules, QUANTITY, ["自愿减排交易"], "自愿减排交易最少要买多少？")
    deadline = ["2025年12月31日前，组织重点排放单位完成2024年度碳排放配额清缴。"]
    terms = ["碳排放配额", "清缴"]
    assert states_asked(deadline, _DATE, terms, "2024年度的碳排放配额什么时候清缴？")
    assert not states_asked(deadline, _DATE, terms, "2025年度的碳排放配额什么时候清缴？")


def test_a_repealed_text_outside_the_library_is_answered_from_its_repealer(
    tmp_path: Path, fake_embedder, monkeypatch
):
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"review-new.md": NEW_REVIEW})
    repealed = answer("节能审查办法还适用吗？", index=index)
    assert repealed.found and repealed.text.startswith("《节能审查办法》已废止")
    assert "同时废止" in repealed.text
    # The successor, in force and cited by nothing newer, shows its own commencement clause.
    current = answer("节能审查和碳排放评价办法还有效吗？", index=index)
    assert current.found and "现行有效" in current.text and "2025年9月1日起施行" in current.text


def test_who_signed_is_answered_in_english_too(library):
    result = answer("Who signed the interim regulations?", index=library)
    assert result.found and "总理　李强" in result.text


def test_a_year_heading_before_the_quote_scopes_its_figures():
    from qa.answer_types import QUANTITY
    from qa.stated import states_asked

    quote = ["森林覆盖率达到25%左右，森林蓄积量达到190亿立方米。"]
    before = ["到2030年，经济社会发展全面绿色转型取得显著成效。"]
    terms = ["森林", "覆盖率"]
    assert states_asked(quote, QUANTITY, terms, "到2030年森林覆盖率要达到多少？", before)
    assert not states_asked(quote, QUANTITY, terms, "到2060年森林覆盖率要达到多少？", before)
    # Without its heading the quote states no year, and answers any.
    assert states_asked(quote, QUANTITY, terms, "到2060年森林覆盖率要达到多少？")


def test_a_title_the_library_does_not_hold_is_told_from_one_it_does():
    from qa.doc_questions import unheld_title

    titles = ["关于做好2025年全国碳排放权交易市场有关工作的通知", "甲烷排放控制行动方案",
              "中共中央 国务院关于完整准确全面贯彻新发展理念做好碳达峰碳中和工作的意见"]  # fmt: skip
    assert unheld_title("《企业温室气体排放报告核查指南（试行）》有什么要求？", titles)
    assert unheld_title("2030年前碳达峰行动方案提出了哪些措施？", titles)
    assert unheld_title("2025年碳市场工作通知对数据质量有哪些安排？", titles) is None
    assert unheld_title("《甲烷排放控制行动方案》的主要目标是什么？", titles) is None
    assert unheld_title("2021年碳达峰碳中和意见提出了什么？", titles) is None
    # A yearly plan the texts ask units to make is no title: 2026年度数据质量控制方案.
    assert unheld_title("2026年度数据质量控制方案什么时候前制定完成？", titles) is None
    # 2020年那个方案: a demonstrative points at a document, it is no word of the title
    assert unheld_title("按2023年那个方案，煤矿瓦斯要利用多少？", titles) is None
    assert unheld_title("2019年那份指南怎么说？", titles)
    # 办法（试行） is said as 试行办法 too.
    assert unheld_title("2020年试行办法怎么报？", ["碳排放权交易管理办法（试行）"]) is None
    # A text a held one says to carry out is not what is asked about.
    assert unheld_title("《意见》里由哪个部门组织落实2030年前碳达峰行动方案？", titles) is None


def test_an_english_term_the_library_never_uses_is_unknown(library):
    from qa.evidence import answer_features

    visa = [frozenset({"申请"}), frozenset({"美国"}), frozenset({"签证", "维萨"})]
    features = answer_features(library.search("申请", 2), visa, True, ["签证", "美国"], False, True)
    # a share of the question's weight, as for a Chinese question: 签证 2 + 美国 2 of 6
    assert features["unknown"] == pytest.approx(4 / 6) and features["unknown_count"] == 2.0
    result = answer("How do I apply for a US visa?", index=library)
    assert not result.found


def test_a_document_named_by_its_kind_and_year_is_that_one(library):
    from qa import naming

    documents = [{"doc_id": "measures.md", "title": "碳排放权交易管理办法（试行）"},
                 {"doc_id": "review-old.md", "title": "节能审查办法"}]  # fmt: skip
    years = {"measures.md": {"2020", "2021"}, "review-old.md": {"2023"}}
    assert naming.named_documents("按2020年那个办法怎么罚？", documents, years) == ["measures.md"]
    assert naming.named_documents("按那个办法怎么罚？", documents, years) == []
    # words of its title between year and kind; a year's plan (2026年度…方案) names no text
    asked = "2020年那个碳交易管理办法，排放报告每年几号之前要报？"
    ccer = {"doc_id": "ccer.md", "title": "温室气体自愿减排交易管理办法（试行）"}
    assert naming.named_documents(asked, [*documents, ccer], years | {"ccer.md": {"2023"}}) == [
        "measures.md"
    ]
    assert naming.DATED_KIND.search("2026年度数据质量控制方案什么时候制定完成？") is None
    # with its qualifier, and whatever run of another title the topic shares
    documents.append(
        {"doc_id": "notice.md", "title": "关于做好2025年全国碳排放权交易市场有关工作的通知"}
    )
    asked = "按2020年那个试行办法，全国碳排放权注册登记机构要报告哪些情况？"
    assert naming.named_documents(asked, documents, years) == ["measures.md"]
    assert naming.named_as_documents(asked, documents, ["measures.md"]) == ["measures.md"]
    # The year that names a document asks for no year's content: 第八章附则 is asked whole.
    asked = "2020年那部碳排放权交易管理办法（试行）的第八章附则讲了什么？"
    assert (
        naming.without_document_years(asked) == "碳排放权交易管理办法（试行）的第八章附则讲了什么？"
    )
    assert (
        naming.without_document_years("意见里2025年的目标是什么？") == "意见里2025年的目标是什么？"
    )
    result = answer("按2020年那个办法，虚报温室气体排放报告罚多少？", index=library)
    assert result.found and result.citations[0].passage.doc_id == "measures.md"
    # named as the old text, to ask what governs now: the governing rule leads
    now = answer("2020年那个办法对虚报排放报告罚得很轻，现在按新规定怎么罚？", index=library)
    assert now.found and now.citations[0].passage.doc_id == "regulation.md"


def test_a_question_on_a_document_outside_the_library_is_declined(library):
    result = answer("《碳排放权交易管理条例实施细则》对重点排放单位有什么要求？", index=library)
    assert not result.found


def test_an_enumeration_of_the_asked_kind_is_recognised():
    from qa.answer_types import enumeration_of

    industries = enumeration_of("2025年全国碳市场新覆盖了哪些行业？")
    assert industries.search("组织钢铁、水泥、铝冶炼行业重点排放单位制定方案")
    assert not industries.search("依托相关行业协会开展政策宣贯")
    # Not a list of units: 铝冶炼行业重点排放单位 is one long item.
    units = enumeration_of("通知抄送了哪些单位？")
    assert not units.search("将钢铁、水泥、铝冶炼行业重点排放单位名录公布")
    assert enumeration_of("这个工作组要做哪些工作？") is None  # 工作 names no kind of thing


def test_passage_counts_tell_how_specific_a_thing_is(library):
    counts = library.passage_counts(["伪造", "排放", "碳税"], cap=3)
    assert counts["伪造"] == 1 and counts["碳税"] == 0
    assert counts["排放"] == 3  # in more passages than the cap: counted up to it
    # jieba's dictionary lacks 碳排放: the index holds it as 碳 + 排放, and so is it counted.
    # Counted as one token it was held nowhere, and every English question whose translation
    # was such a word (carbon emissions → 碳排放) named a topic "the library doesn't hold".
    assert library.passage_counts(["碳排放"], cap=3)["碳排放"] > 0


def test_a_figure_must_name_the_rare_things_and_the_most_specific_one():
    from qa.stated import specific_things

    counts = {"城市": 40, "生活": 12, "污水": 2, "收集率": 0}
    assert specific_things(counts, rare=1, at_most=20) == ["污水"]
    rare = {"风险基金": 1, "碳市场": 1, "企业": 30}
    assert specific_things(rare, 1, 20) == ["风险基金", "碳市场"]
    assert specific_things({"企业": 30, "单位": 40}, 1, 20) == []  # nothing specific asked


def test_who_makes_something_under_a_text_is_not_who_issued_it(library):
    from qa.doc_questions import issuer_quotes

    content = "按照碳排放权交易管理暂行条例，各省的重点排放单位名录由谁来制定？"
    assert issuer_quotes(library, content, ["regulation.md"]) == []
    issued = issuer_quotes(library, "碳排放权交易管理暂行条例是哪个部门发布的？", ["regulation.md"])
    assert issued and "国务院" in issued[0][0].text[issued[0][1] : issued[0][2]]


SIGNED_NOTICE = """---
title: 关于做好碳市场有关工作的通知
issuer: 生态环境部办公厅
date: 2025-04-15
---

各省、自治区、直辖市生态环境厅（局）：

一、2025年6月30日前，完成发电行业排放报告核查。

二、2025年12月31日前，完成配额清缴。

生态环境部办公厅

2025年4月11日
"""


def test_the_signing_date_is_the_dated_line_of_the_named_text(
    tmp_path: Path, fake_embedder, monkeypatch
):
    files = {"notice.md": SIGNED_NOTICE, "regulation.md": REGULATION}
    index = small_library(tmp_path, fake_embedder, monkeypatch, files)
    signed = answer("《关于做好碳市场有关工作的通知》落款日期是哪一天？", index=index)
    assert signed.found and signed.text.startswith("2025年4月11日")  # not a deadline, not 4-15


AMENDED_LAW = """---
title: 中华人民共和国大气污染防治法
issuer: 全国人民代表大会常务委员会
---

1987年9月5日 第六届全国人民代表大会常务委员会第二十二次会议通过

2000年4月29日 第九届全国人民代表大会常务委员会第十五次会议第一次修订

2015年8月29日 第十二届全国人民代表大会常务委员会第十六次会议第二次修订

第一条 为保护和改善环境，防治大气污染，制定本法。
"""


def test_a_law_asked_how_often_it_was_amended_lists_its_history(
    tmp_path: Path, fake_embedder, monkeypatch
):
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"air.md": AMENDED_LAW})
    result = answer("大气污染防治法87年出台以后改过几次？分别是哪年？", index=index)
    assert result.found
    for line in ("1987年9月5日", "2000年4月29日", "2015年8月29日"):
        assert line in result.text
    assert "第一条" not in result.text


TWO_DEADLINES = """---
title: 关于做好2025年全国碳排放权交易市场有关工作的通知
issuer: 生态环境部
---

2025年5月10日前，省级生态环境主管部门将2024和2025年度钢铁、水泥、铝冶炼行业重点排放单位名录通过全国碳市场管理平台向社会公开，并报送生态环境部，同时抄送所在地的发展改革、工业和信息化、统计等相关部门和单位备案，接受社会监督。

2025年5月15日前，省级生态环境主管部门组织新纳入的重点排放单位开立管理平台账户，并激活排放管理、碳排放权注册登记与交易管理、自愿减排市场注册登记与交易管理等全部相关业务功能，确保新纳入单位按时完成账户开立和信息报送。
"""


def test_things_asked_each_get_their_sentence(fake_embedder):
    from types import SimpleNamespace

    from qa.search import Passage
    from qa.sentences import select_sentences

    text = TWO_DEADLINES.split("---")[-1].strip()
    passage = Passage(text=text, doc_id="notice.md", title="通知", source=None, date=None,
                      paragraph=1, score=1.0)  # fmt: skip
    index = SimpleNamespace(embedder=fake_embedder)
    terms = ["名录", "管理平台", "账户"]

    def quoted(question: str) -> str:
        vector = fake_embedder.embed_queries([question])[0]
        return "".join(s.text for s in select_sentences(index, vector, [passage], terms, "date",
                                                          question=question))  # fmt: skip

    # two long sentences exceed one answer's budget; 分别 asks for both
    both = quoted("省里公布名录和开立管理平台账户，最晚分别是哪天？")
    assert "2025年5月10日前" in both and "2025年5月15日前" in both
    assert quoted("省里公布名录和开立管理平台账户最晚是哪天？").count("2025年5月1") == 1


def test_a_document_number_names_the_document_and_is_no_topic(library):
    from qa.evidence import evidence_terms
    from qa.text import tokenize

    question = "生态环境部令第19号《碳排放权交易管理办法（试行）》是哪天审议通过的？"
    terms, _ = evidence_terms(
        library, question, tokenize(question), ["碳排放权交易管理办法（试行）"]
    )
    assert not {"生态环境", "部令"} & set(terms) and "通过" in terms


def test_a_preposition_glued_to_the_document_name_is_no_topic(library):
    from qa.evidence import evidence_terms

    # jieba cuts 按|碳达峰碳中和意见 as 按碳: that is a piece of the name, not an unknown topic
    question = "按碳达峰碳中和意见，非化石能源消费比重到2060年要达到多少？"
    cut = ["按碳", "达峰", "碳中和", "意见", "非", "化石", "能源", "消费", "比重", "2060", "年"]
    terms, unknown = evidence_terms(library, question, cut, ["碳达峰碳中和工作的意见"])
    assert "按碳" not in terms and not unknown and "比重" in terms


def test_a_quantity_of_the_askers_case_is_not_a_number_the_text_must_name():
    from qa.evidence import names_numbers
    from qa.search import Passage

    rule = Passage(text="没收违法所得，并处违法所得5倍以上10倍以下的罚款。", doc_id="rules.md",
                   title="条例", source=None, date=None, paragraph=1, score=1.0)  # fmt: skip
    case = "技术服务机构篡改数据，查出违法所得25万元，会被怎么罚？"
    assert names_numbers([rule], ["违法所得", "25", "万元"], case)
    staff = "我们机构有12名专职人员，这一条够申请审定与核查机构吗？"  # a head count of the case
    assert names_numbers([rule], ["专职", "12"], staff)
    # a year is a name: texts that don't say 2040 don't answer for it
    assert not names_numbers([rule], ["2040", "违法所得"], "2040年违法所得怎么罚？")
    # the month of the asker's own case is no year a rule names
    day = "我们项目2026年6月查出违法所得，会被怎么罚？"
    assert names_numbers([rule], ["2026", "违法所得"], day)
    assert not names_numbers([rule], ["2026", "违法所得"], "2026年6月起违法所得怎么罚？")


def test_a_year_an_english_question_names_must_be_in_the_texts(library):
    from qa.evidence import names_numbers
    from qa.search import Passage

    # (not "targeted": in this five-document library 目标 is a rare thing the quote must name)
    assert answer("What is the non-fossil energy share for 2030?", index=library).found
    assert not answer("What is the non-fossil energy share for 2040?", index=library).found
    # the year a document took effect names it (the NDRC's 2025 measures)
    rule = Passage(text="项目节能审查应征求同级管理节能工作的部门意见。", doc_id="review.md",
                   title="节能审查办法", source=None, date=None, paragraph=1, score=1.0)  # fmt: skip
    assert names_numbers([rule], ["2025", "节能审查"], "", {"review.md": "2025-09-01"})
    assert not names_numbers([rule], ["2025", "节能审查"], "")


def test_a_list_asked_in_particular_must_name_the_thing_it_is_of():
    from qa.stated import asks_specifics, names_all

    question = "开发区实行区域节能审查以后，项目走告知承诺制，承诺书具体要写哪些内容？"
    assert asks_specifics(question, "list") and not asks_specifics(question, "who")
    assert not asks_specifics("意见点名要深化哪些重点领域的节能？", "list")  # no 具体
    scheme = ["对已经实施区域节能审查范围内的项目，节能审查实行告知承诺制。"]
    assert not names_all(scheme, ["承诺书"]) and names_all(scheme, ["告知承诺"])


def test_a_rare_thing_must_be_named_in_the_provision_that_states_the_figure():
    from qa.answer_types import _DURATION
    from qa.stated import states_asked

    quotes = ["项目设计文件所涉数据和信息的原始记录、管理台账应当在该项目最后一期减排量登记后至少保存十年。",
              "注册登记机构应当对已登记的温室气体自愿减排项目建立项目档案，记录、留存相关信息。"]  # fmt: skip
    question = "注册登记机构建的项目档案要保存多少年？"
    terms = ["注册登记机构", "档案", "保存"]
    args = (quotes, _DURATION, terms, question, (), ["档案"], ())
    assert not states_asked(*args, ["ccer.md 第十八条", "ccer.md 第三十九条"])
    assert states_asked(*args, ["ccer.md 第十八条", "ccer.md 第十八条"])  # one article says both


def test_a_repeal_at_the_same_time_is_dated_by_the_commencement_before_it():
    from qa.answer_types import question_form, required_shape
    from qa.quotes import with_antecedents
    from qa.search import Passage
    from qa.sentences import Sentence
    from qa.stated import states_asked
    from qa.text import sentence_spans

    text = ("第三十四条 本办法自2025年9月1日起施行。"
            "原《固定资产投资项目节能审查办法》（国家发展和改革委员会令2023年第2 号）同时废止。")  # fmt: skip
    passage = Passage(text=text, doc_id="review.md", title="节能审查和碳排放评价办法", source=None,
                      date=None, paragraph=1, score=1.0)  # fmt: skip
    start, end = sentence_spans(text)[1]
    quoted = with_antecedents([passage], [Sentence(0, start, end, text[start:end])])
    assert quoted[0].text.endswith("起施行。") and len(quoted) == 2
    question = "国家发改委2023年第2号令那个节能审查办法，具体从哪天起不再适用？"
    shape = required_shape(question, question_form(question))
    assert states_asked([text], shape, ["国家", "节能审查"], question)


def test_which_items_and_a_list_of_indicators_ask_for_a_list():
    from qa.answer_types import question_form
    from qa.evidence import asked_kinds

    assert question_form("意见为了增加森林碳汇，具体点了哪几项行动和工程？") == "list"
    assert question_form("审定与核查机构需要具备几名专职人员？") == "number"
    assert "指标" in asked_kinds("意见给2025年定的量化指标一共有哪些，数值分别是多少？")


def test_this_item_points_back_at_the_named_section_and_is_no_topic():
    from qa.evidence import is_topic_word

    # 意见里“推进城乡建设和管理模式低碳转型”这一条具体要求做什么？ asks for that item whole
    assert not any(map(is_topic_word, ["一条", "这一条", "该项", "这部分"]))
    assert is_topic_word("条例") and is_topic_word("一条龙")
    # 没有按规定报送: how it was done, no thing the quote must name (the rule says 按照规定)
    assert not is_topic_word("按规定") and not is_topic_word("按照规定")


def test_the_people_in_charge_bring_their_paragraph_of_the_article():
    from qa.quotes import with_persons_liable
    from qa.search import Passage
    from qa.sentences import Sentence
    from qa.structure import Locator

    def clause(text: str, number: int, article: str = "第二十三条") -> Passage:
        return Passage(text=text, doc_id="regulation.md", title="条例", source=None, date=None,
                       paragraph=number, score=1.0, locator=Locator(article=article, clause=number))  # fmt: skip

    body = clause("技术服务机构篡改、伪造数据资料的，并处违法所得5倍以上10倍以下的罚款。", 2)
    people = clause("技术服务机构因本条第一款、第二款规定的违法行为受到处罚的，对其直接负责的"
                    "主管人员和其他直接责任人员处2万元以上20万元以下的罚款。", 3)  # fmt: skip
    other = clause("对其直接负责的主管人员依法给予处分。", 1, article="第三十条")
    lead = [Sentence(0, 0, len(body.text), body.text)]
    question = "技术服务机构篡改数据，机构本身和它直接负责的主管人员分别会被怎么罚？"
    quoted = with_persons_liable([body, other, people], lead, question)
    assert [s.rank for s in quoted] == [0, 2]  # 第三款 of the same article, not 第三十条
    assert with_persons_liable([body, people], lead, "技术服务机构篡改数据会被怎么罚？") == lead
    # said plainly, the people in charge are asked all the same
    plainly = "技术服务机构篡改数据，公司罚多少？公司里直接负责的人呢？"
    assert [s.rank for s in with_persons_liable([body, people], lead, plainly)] == [0, 1]


VERIFICATION = """---
title: 核查工作规定
date: 2024-02-04
---

**第一条**　省级人民政府生态环境主管部门应当对年度排放报告进行核查，确认其实际排放量。核查工作应当在规定的时限内完成，并自核查完成之日起7个工作日内向重点排放单位反馈核查结果。

**第二条**　重点排放单位对核查结果有异议的，可以申请复核；省级生态环境主管部门应当自接到复核申请之日起十个工作日内，作出复核决定。

**第三条**　省级生态环境主管部门应当将年度排放情况报生态环境部。

**第四条**　省级生态环境主管部门应当加强对技术服务机构的监督管理。

**第五条**　省级生态环境主管部门应当公开重点排放单位名录。

**第六条**　省级生态环境主管部门应当组织开展培训。

**第七条**　本规定自2024年5月1日起施行。
"""


def test_the_sentence_with_the_questions_own_words_beats_one_that_repeats_its_subject(
    tmp_path, fake_embedder, monkeypatch
):
    # 省级生态环境主管部门, which most articles name, is cut into six overlapping terms; counted
    # once, it no longer outweighs 核查完成 and 反馈核查结果, the words that tell the answer apart.
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": VERIFICATION})
    # The words alone decide here: the fake embedder's cosines and passage ranks mean nothing.
    monkeypatch.setattr(importlib.import_module("qa.sentences"), "WEIGHTS", (0.0, 1.0, 0.0))
    result = answer("省级生态环境主管部门应在核查完成后多少个工作日内反馈核查结果？", index=index)
    assert result.citations[0].quotes[0].startswith("核查工作应当在规定的时限内完成")


def test_the_asked_clause_and_a_follow_ups_own_words_are_the_focus():
    from qa.sentences import _in_focus

    terms = ["运行", "情况", "抄送"]
    assert _in_focus("定期报告的运行情况，还可以抄送给谁？", terms) == [False, False, True]
    # A follow-up's terms carry the earlier turn's topic; its own words are what it asks.
    assert _in_focus("那交易主体要在哪里开户？", ["交易方式", "交易", "开户"]) == [
        False,
        True,
        True,
    ]
    # A question of one clause whose words are all its own has no focus.
    assert _in_focus("交易主体要在哪里开户？", ["交易", "开户"]) == [False, False]


def test_rules_of_different_matters_are_not_ranked_against_each_other():
    from qa.authority import Authority
    from qa.governing import authority_note
    from qa.search import Passage

    def rule(doc_id: str, title: str, level: str, effective: str) -> Passage:
        return Passage(text="……", doc_id=doc_id, title=title, source=None, date=effective,
                       paragraph=1, score=1.0,
                       authority=Authority(level=level, effective=effective))  # fmt: skip

    review = rule("review.md", "固定资产投资项目节能审查和碳排放评价办法", "部门规章", "2025-09-01")
    ccer = rule("ccer.md", "温室气体自愿减排交易管理办法（试行）", "部门规章", "2023-10-20")
    assert authority_note([review, ccer]) is None
    regulation = rule("reg.md", "碳排放权交易管理暂行条例", "行政法规", "2024-05-01")
    measures = rule("old.md", "碳排放权交易管理办法（试行）", "部门规章", "2021-02-01")
    assert "效力优先于" in authority_note([regulation, measures])


def test_a_rule_of_another_matter_is_quoted_beside_not_as_see_also():
    from qa.authority import Authority
    from qa.quotes import compose
    from qa.search import Passage
    from qa.sentences import Sentence

    def rule(title: str, level: str, text: str) -> Passage:
        return Passage(text=text, doc_id=f"{title}.md", title=title, source=None,
                       date="2024-01-01", paragraph=1, score=1.0,
                       authority=Authority(level=level))  # fmt: skip

    ets = rule("碳排放权交易管理暂行条例", "行政法规", "信息纳入国家有关信用信息系统。")
    review = rule(
        "固定资产投资项目节能审查和碳排放评价办法", "部门规章", "信息纳入全国信用信息共享平台。"
    )
    old = rule("碳排放权交易管理办法（试行）", "部门规章", "信息纳入信用记录。")
    picked = [
        Sentence(0, 0, len(ets.text), ets.text),
        Sentence(1, 0, len(review.text), review.text),
    ]
    beside = compose("信用信息纳入哪里？", "信用信息", [ets, review], picked)
    assert "另见" not in beside.text and "共享平台" in beside.text
    picked[1] = Sentence(1, 0, len(old.text), old.text)
    assert "另见" in compose("信用信息纳入哪里？", "信用信息", [ets, old], picked).text


def test_a_figure_under_a_years_lead_is_quoted_with_the_lead(library):
    result = answer("意见要求单位国内生产总值二氧化碳排放比2005年下降多少？", index=library)
    assert result.found and "65%以上" in result.text
    assert result.text.index("到2030年") < result.text.index("65%以上")


def test_a_period_named_inside_a_sentence_leads_nothing():
    text = "石油消费“十五五”时期进入峰值平台期。加快推进页岩气、煤层气等非常规油气资源规模化开发。"
    passage = Passage(text=text, doc_id="opinions.md", title="意见", source=None, date=None,
                      paragraph=1, score=1.0)  # fmt: skip
    start = text.index("加快")
    quote = Sentence(0, start, len(text), text[start:])
    assert with_year_leads([passage], [quote]) == [quote]


def test_a_text_shortened_to_words_of_its_title_and_its_kind_is_named():
    from qa.naming import named_documents

    documents = [
        {"doc_id": "ccer", "title": "温室气体自愿减排交易管理办法（试行）"},
        {"doc_id": "measures", "title": "碳排放权交易管理办法（试行）"},
        {"doc_id": "review", "title": "固定资产投资项目节能审查和碳排放评价办法"},
    ]
    assert named_documents("自愿减排办法第十九条是怎么规定的？", documents) == ["ccer"]
    # words two titles share before their kind name neither alone
    assert named_documents("交易管理办法第十九条？", documents) != ["ccer"]


CLAUSES = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
date: 2024-02-04
---

第一条　技术服务机构出具不实或者虚假的检验检测报告的，处2万元以上10万元以下的罚款。

技术服务机构出具的年度排放报告存在重大缺陷或者遗漏的，处5万元以上20万元以下的罚款。

技术服务机构因本条第一款、第二款规定的违法行为受到处罚的，对其直接负责的主管人员处2万元以上20万元以下的罚款。

第二条　重点排放单位应当按照规定清缴碳排放配额。

第三条　本条例自2024年5月1日起施行。
"""


def test_a_clause_asked_of_an_article_is_quoted_alone(tmp_path, fake_embedder, monkeypatch):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"regulation.md": CLAUSES})
    result = answer("暂行条例第一条第三款怎么规定的？", index=library)
    assert result.found and "直接负责的主管人员" in result.text
    assert "检验检测报告" not in result.text and "重大缺陷" not in result.text
    assert result.citations[0].passage.provision == "第一条第三款"
    whole = answer("暂行条例第一条怎么规定的？", index=library)
    assert "检验检测报告" in whole.text and "直接负责的主管人员" in whole.text


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("双碳意见第几部分讲主要目标？", ["opinions"]),
        ("大气法第四条讲什么？", ["air"]),
        ("碳市场条例第二十二条讲什么？", ["regulation"]),
        ("全国碳市场的监管归谁？", []),  # a shorthand names a text only before its kind
    ],
)
def test_a_text_named_by_a_shorthand_for_its_title_words(question, named):
    from qa.naming import named_as_documents

    documents = [
        {
            "doc_id": "opinions",
            "title": "中共中央 国务院关于完整准确全面贯彻新发展理念做好碳达峰碳中和工作的意见",
        },
        {"doc_id": "air", "title": "中华人民共和国大气污染防治法"},
        {"doc_id": "regulation", "title": "碳排放权交易管理暂行条例"},
        {"doc_id": "notice", "title": "关于做好2025年全国碳排放权交易市场有关工作的通知"},
    ]
    assert named_as_documents(question, documents) == named


def test_the_rules_asked_after_a_premise_are_the_departmental_rules():
    from qa.naming import named_by_level

    documents = [{"doc_id": "opinions"}, {"doc_id": "review"}, {"doc_id": "law"}]
    levels = {"opinions": "党内法规/政策文件", "review": "部门规章", "law": "法律"}
    question = "双碳意见要求坚决遏制高耗能项目，这一要求在节能审查的规章里落到了哪里？"
    assert named_by_level(question, documents, levels) == ["review"]
    assert named_by_level("单位有哪些规章制度？", documents, levels) == []


def test_the_paragraph_announcing_the_asked_kind_joins_its_article(tmp_path, fake_embedder,
                                                                    monkeypatch):  # fmt: skip
    from qa.enumerations import with_announced_lists

    article = ("**第二十九条** 审定与核查机构应当依法从事审定与核查活动。\n\n"
               "**第三十条** 审定与核查机构纳入认证机构管理，公正、独立地从事审定与核查活动。\n\n"
               "审定与核查机构应当具备相应的技术和管理能力，并且符合以下条件：\n\n"
               "（一）具有法人资格；\n\n（二）近五年无严重失信记录。\n\n"
               "**第三十一条** 审定与核查机构应当加强行业自律。\n")  # fmt: skip
    index = small_library(tmp_path, fake_embedder, monkeypatch, {"ccer.md": article})
    first, announcing, *_ = index.provision("ccer.md", "第三十条")
    assert "以下条件" in announcing.text
    joined = with_announced_lists(index, [first], "审定与核查机构得满足哪些硬条件？")
    assert [p.passage_id for p in joined] == [first.passage_id, announcing.passage_id]
    assert joined[1].score == first.score  # ranked as the paragraph the search found
    # Asked no kind of thing, or a kind the article doesn't announce: nothing joins.
    assert with_announced_lists(index, [first], "审定与核查机构有什么规定？") == [first]
    assert with_announced_lists(index, [first], "审定与核查机构有哪些义务？") == [first]
