"""Sections, chapters and lists of policy and legal texts, on a tiny corpus with the fake
embedder: a part asked by name is quoted from that part, whole when it is short."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from qa import Index, answer, build_index

PLAN = """---
title: 甲烷排放控制行动方案
issuer: 生态环境部
---

## 三、重点任务

### （二）推进能源领域甲烷排放控制

#### 4. 强化煤矿瓦斯综合利用

推进煤矿瓦斯抽采利用，提高瓦斯利用率。

### （三）推进农业领域甲烷排放控制

#### 7. 推进畜禽粪污资源化利用

改进畜禽粪污存储及处理设施装备，提高资源化利用水平。

#### 8. 科学控制肠道发酵甲烷排放

选育推广高产低排放畜禽品种，改进饲养管理。

#### 9. 有序推进稻田甲烷排放控制

强化稻田水分管理，推广节水灌溉技术。改进稻田施肥管理，推广有机肥腐熟还田。
"""

CHAPTERED = """---
title: 温室气体排放核查办法
issuer: 生态环境部
---

第一章　总则

第一条　为规范温室气体排放核查，制定本办法。

第二章　排放核查与配额清缴

第二条　重点排放单位应当于每年3月31日前报送上一年度排放报告。

第三条　重点排放单位对核查结果有异议的，可以申请复核。
"""

REVIEW_RULES = """---
title: 固定资产投资项目节能审查和碳排放评价办法
issuer: 国家发展和改革委员会
---

**第十三条** 省级节能审查机关在报送节能审查申报材料时一并提交项目情况说明。项目情况说明应包括下列内容：

（一）省级有关部门对项目的联合评估论证情况，包括产业管理、节能降碳、生态环保、资源利用等政策符合性，能效、碳排放、污染物排放、工艺设备等技术水平先进性，以及评估论证结果等；

（二）项目建成后对本省节能降碳工作特别是相关指标的影响分析，如有不利影响，应提出拟采取的有效措施；

（三）是否支持项目建设的明确意见。

**第十四条** 本办法下列用语的含义：

（一）能源消费量，是指项目年综合能源消费量，按当量值计算，包括原煤、原油、天然气和电力。
"""


def library(tmp_path: Path, fake_embedder, monkeypatch, **texts: str) -> Index:
    """An index of `texts` ({file stem: text}) with the fake embedder."""
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for stem, text in texts.items():
        (corpus / f"{stem}.md").write_text(text, encoding="utf-8")
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


@pytest.fixture
def plans(tmp_path: Path, fake_embedder, monkeypatch) -> Index:
    return library(tmp_path, fake_embedder, monkeypatch, plan=PLAN, review=REVIEW_RULES,
                   checks=CHAPTERED)  # fmt: skip


def test_a_section_is_named_by_what_sets_it_apart_from_the_document(plans):
    result = answer("甲烷行动方案在农业领域有哪些控制措施？", index=plans)
    assert result.found
    for task in ("畜禽粪污", "肠道发酵", "稻田"):
        assert task in result.text
    assert "煤矿瓦斯" not in result.text
    # A section this short is quoted whole: each task's measures, not only its opening.
    assert "推广有机肥腐熟还田" in result.text


def test_a_chapter_asked_by_number_and_name_is_quoted_from_that_chapter(plans):
    result = answer("温室气体排放核查办法第二章“排放核查与配额清缴”主要讲了什么？", index=plans)
    assert result.found
    assert "3月31日前报送" in result.text and "可以申请复核" in result.text
    assert "为规范温室气体排放核查" not in result.text


def test_long_items_of_a_list_are_quoted_by_their_first_clause(plans):
    result = answer("项目情况说明要包括哪些内容？", index=plans)
    assert result.found
    assert "省级有关部门对项目的联合评估论证情况，" in result.text
    assert "是否支持项目建设的明确意见" in result.text
    assert "工艺设备等技术水平先进性" not in result.text  # the rest of item (一) is on the card
    for citation in result.citations:  # still verbatim
        assert all(q in result.text for q in citation.quotes)


def test_a_definition_is_looked_up_in_the_named_text(plans):
    result = answer("节能审查和碳排放评价办法所称的能源消费量包括哪些？", index=plans)
    assert result.found
    assert result.text.startswith("（一）能源消费量，是指")
    assert "原煤、原油、天然气和电力" in result.text


NEW_MEASURES = """---
title: 温室气体自愿减排交易管理办法
issuer: 生态环境部
---

第一条　为规范温室气体自愿减排交易，制定本办法。

第二条　经登记的项目减排量称为“核证自愿减排量”，单位以“吨二氧化碳当量”计。

第三条　申请项目登记的法人或者其他组织（以下简称项目业主）应当编制项目设计文件。

第四条　本办法自2023年10月19日起施行。原《温室气体自愿减排交易暂行办法》同时废止。
"""

OLD_MEASURES = """---
title: 温室气体自愿减排交易暂行办法
issuer: 国家发展和改革委员会
---

第一条　为鼓励温室气体自愿减排交易，制定本办法。

第二条　核证自愿减排量：是指经备案的减排量。

第三条　本办法自2012年6月13日起施行。
"""


@pytest.mark.parametrize(
    "question, definition",
    [
        ("什么是核证自愿减排量？", "第二条　经登记的项目减排量称为“核证自愿减排量”"),
        ("“核证自愿减排量”是怎么定义的？", "第二条　经登记的项目减排量称为“核证自愿减排量”"),
        ("“项目业主”指的是谁？", "第三条　申请项目登记的法人或者其他组织（以下简称项目业主）"),
    ],
)
def test_a_definition_asked_any_way_is_quoted_from_the_governing_text(
    question, definition, tmp_path: Path, fake_embedder
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "new.md").write_text(NEW_MEASURES, encoding="utf-8")
    (corpus / "old.md").write_text(OLD_MEASURES, encoding="utf-8")
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    result = answer(question, index=Index(tmp_path / "index", embedder=fake_embedder))
    assert result.found
    assert result.text.startswith(definition)
    assert "经备案的减排量" not in result.text  # the repealed text's definition


CCER_RULES = """---
title: 温室气体自愿减排交易管理办法（试行）
issuer: 生态环境部
---

第一章　总则

第三条　交易机构可以按照国家有关规定，制定核证自愿减排量交易的具体业务规则，并报生态环境部备案。

第二章　减排量交易

第四条　核证自愿减排量的交易应当通过交易系统进行。

第五条　交易主体应当在注册登记系统和交易系统开设账户。
"""


def test_an_english_question_beyond_a_named_chapter_is_not_answered_by_the_chapter(
    tmp_path: Path, fake_embedder, monkeypatch
):
    index = library(tmp_path, fake_embedder, monkeypatch, ccer=CCER_RULES)
    # "CCER exchange" reads as 核证自愿减排量交易机构, which holds the chapter's name 减排量交易;
    # "detailed rules" asks for more than that chapter. Read in its English words, nothing was
    # beyond the chapter (the library holds no English), and the chapter was quoted whole.
    result = answer("Can the CCER exchange write its own detailed trading rules?", index=index)
    assert "通过交易系统进行" not in result.text


NEWS = """---
title: 陆新明谈中美强化气候行动联合宣言
date: 2021-11-25
---

11月25日，生态环境部应对气候变化司副司长陆新明接受了采访。

## 将尽快建立强化气候行动工作组

当地时间11月10日，中美双方发布联合宣言。双方赞赏迄今为止开展的工作。

陆新明表示，我国将尽快建立强化气候行动工作组，持续开展政策和技术交流。

## 将推动控制甲烷排放

一是开展甲烷排放控制研究。二是推动出台甲烷排放控制行动方案。
"""


def test_a_news_report_section_under_an_unnumbered_heading_is_quoted_whole(
    tmp_path: Path, fake_embedder, monkeypatch
):
    index = library(tmp_path, fake_embedder, monkeypatch, news=NEWS, plan=PLAN)
    result = answer("那篇报道里“将尽快建立强化气候行动工作组”这一部分主要讲了什么？", index=index)
    assert result.found
    assert "双方赞赏迄今为止开展的工作" in result.text
    assert "持续开展政策和技术交流" in result.text
    assert "甲烷排放控制研究" not in result.text
    assert result.citations[0].passage.locator.path() == "将尽快建立强化气候行动工作组"
