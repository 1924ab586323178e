"""Where a paragraph sits: 章/条/款/项 of legal texts, the outline of policy texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.documents import Block, read_document
from qa.structure import Locator, cn_to_int, common, int_to_cn, locate, normalize_article


def blocks(*lines: str) -> list[Block]:
    return [Block(line.lstrip("#"), line.startswith("#")) for line in lines]


LAW = blocks(
    "#第一章　总　　则",
    "第一条　为了规范碳排放权交易，制定本条例。",
    "第二条　本条例适用于全国碳排放权交易市场。",
    "国家加强碳排放权交易领域的国际合作。",
    "#第五章　法律责任",
    "第二十二条　重点排放单位有下列情形之一的，处50万元以上200万元以下的罚款：",
    "（一）未按照规定统计核算温室气体排放量；",
    "（二）篡改、伪造数据资料；",
    "第二十三条　技术服务机构出具虚假报告的，处罚款。",
)


@pytest.mark.parametrize("number", [1, 9, 10, 11, 19, 20, 22, 99, 100, 101, 110, 119, 205])
def test_chinese_numerals_round_trip(number):
    assert cn_to_int(int_to_cn(number)) == number


def test_article_names_are_normalised():
    assert normalize_article("第22条") == "第二十二条"
    assert normalize_article("第 二十二 条".replace(" ", "")) == "第二十二条"
    assert normalize_article("第二十二章") is None


def test_articles_paragraphs_and_items_are_located():
    places = [loc.path() for loc in locate(LAW)]
    assert places == [
        "第一章总则",
        "第一章总则 › 第一条",
        "第一章总则 › 第二条 › 第一款",
        "第一章总则 › 第二条 › 第二款",
        "第五章法律责任",
        "第五章法律责任 › 第二十二条",
        "第五章法律责任 › 第二十二条 › 第一款 › 第（一）项",
        "第五章法律责任 › 第二十二条 › 第一款 › 第（二）项",
        "第五章法律责任 › 第二十三条",
    ]


def test_citations_read_as_readers_cite():
    locs = locate(LAW)
    assert locs[7].cite() == "第二十二条第一款第（二）项"
    assert locs[2].cite() == "第二条第一款"
    assert locs[1].cite() == "第一条"  # one 款: not named


def test_policy_outline_is_located():
    outline = locate(blocks("前言。", "#一、总体要求", "#（一）指导思想", "以…为指导。", "#二、主要目标",
                            "到2025年，…。"))  # fmt: skip
    assert [loc.path() for loc in outline] == [
        "", "一、总体要求", "一、总体要求 › （一）指导思想", "一、总体要求 › （一）指导思想",
        "二、主要目标", "二、主要目标",
    ]  # fmt: skip
    assert outline[5].cite() == "二、主要目标"


def test_run_in_headings_of_a_policy_text_are_located():
    outline = locate(blocks("#四、深度调整产业结构", "（六）推动产业结构优化升级。加快推进农业绿色发展。",
                            "制定能源、钢铁等行业碳达峰实施方案。", "（七）坚决遏制高耗能项目。严控新增产能。",
                            "（一）具备固定办公场所；", "#五、加快构建能源体系"))  # fmt: skip
    assert [loc.path() for loc in outline] == [
        "四、深度调整产业结构", "四、深度调整产业结构 › （六）推动产业结构优化升级",
        "四、深度调整产业结构 › （六）推动产业结构优化升级",
        "四、深度调整产业结构 › （七）坚决遏制高耗能项目",
        "四、深度调整产业结构 › （七）坚决遏制高耗能项目",  # a list item, not a heading
        "五、加快构建能源体系",
    ]  # fmt: skip
    assert outline[1].cite() == "（六）推动产业结构优化升级"


def test_unnumbered_headings_of_a_news_report_are_its_sections():
    report = locate(blocks("#中美发布联合宣言", "11月25日，陆新明接受采访。", "#将尽快建立工作组",
                           "双方赞赏迄今为止开展的工作。", "#将推动控制甲烷排放", "一是开展研究。"))  # fmt: skip
    # the title before any body text is no section; each bold heading is one
    assert [loc.path() for loc in report] == [
        "", "", "将尽快建立工作组", "将尽快建立工作组", "将推动控制甲烷排放", "将推动控制甲烷排放",
    ]  # fmt: skip
    # a policy text that numbers its outline keeps only the numbered headings
    numbered = locate(blocks("前言。", "#附：说明", "#一、总体要求", "以…为指导。"))
    assert [loc.path() for loc in numbered] == ["", "", "一、总体要求", "一、总体要求"]


def test_a_passage_over_several_items_is_cited_by_its_article():
    locs = locate(LAW)
    assert common(locs[5:8]).cite() == "第二十二条"
    assert common([locs[2], locs[3]]).cite() == "第二条"


def test_locator_survives_json():
    loc = locate(LAW)[7]
    assert Locator.from_json(loc.to_json()) == loc
    assert Locator.from_json("not json") is None


def test_the_shipped_regulation_is_structured():
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    doc = read_document(corpus / "carbon-trading-interim-regulations-2024.md", corpus)
    places = {loc.cite() for loc in locate(doc.blocks)}
    assert {"第二十二条", "第二十二条第一款第（二）项", "第三十三条"} <= places
