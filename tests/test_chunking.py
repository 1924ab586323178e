"""Paragraph passages: numbering, headings, windows and offsets."""

from __future__ import annotations

from conftest import SEED

from qa.chunking import SPLIT_ABOVE_CHARS, WINDOW_CHARS, chunk_document
from qa.documents import Block, Document, read_document


def _doc(*blocks: Block) -> Document:
    return Document(doc_id="d", path="d", title="T", blocks=list(blocks))


def test_seed_passages_are_paragraphs_with_their_headings():
    doc = read_document(SEED)
    chunks = chunk_document(doc)
    assert len(chunks) == 15  # 17 paragraphs minus 2 headings
    by_paragraph = {c.paragraph: c for c in chunks}
    assert by_paragraph[12].text.startswith("今年4月22日")
    assert by_paragraph[12].heading == "将进一步推动开展中国控制甲烷排放行动"
    assert by_paragraph[1].heading is None
    assert 3 not in by_paragraph and 9 not in by_paragraph
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_long_paragraph_is_windowed_at_sentence_ends():
    sentence = "碳排放权交易市场建设稳步推进，覆盖范围逐步扩大，制度体系不断完善。"  # 33 chars
    doc = _doc(Block(sentence * 30))
    chunks = chunk_document(doc)
    assert len(chunks) > 1
    assert all(c.paragraph == 1 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert all(len(c.text) <= SPLIT_ABOVE_CHARS for c in chunks)
    assert max(len(c.text) for c in chunks) <= WINDOW_CHARS
    assert "".join(c.text for c in chunks) == sentence * 30


def test_sentence_without_stops_is_still_cut():
    doc = _doc(Block("碳" * 1000))
    chunks = chunk_document(doc)
    assert all(len(c.text) <= SPLIT_ABOVE_CHARS for c in chunks)
    assert "".join(c.text for c in chunks) == "碳" * 1000


def test_short_fragments_join_a_neighbour_within_their_section():
    doc = _doc(
        Block("第　19　号"),
        Block("本办法已经部务会议审议通过，现予公布，自公布之日起施行。"),
        Block("2020年12月31日"),
        Block("第一章　总则", is_heading=True),
        Block("第一条　为落实党中央、国务院关于建设全国碳排放权交易市场的决策部署，制定本办法。"),
    )
    chunks = chunk_document(doc)
    assert [(c.paragraph, c.paragraph_end, c.heading) for c in chunks] == [
        (1, 3, None), (5, 5, "第一章　总则")
    ]  # fmt: skip
    assert (
        chunks[0].text
        == "第　19　号\n本办法已经部务会议审议通过，现予公布，自公布之日起施行。\n2020年12月31日"
    )
    assert doc.text[chunks[0].start : chunks[0].end] == chunks[0].text


def test_short_list_items_stay_with_their_lead_in():
    doc = _doc(
        Block("第十条　申请登记的温室气体自愿减排项目应当具备下列条件："),
        Block("（一）具备真实性、唯一性和额外性；"),
        Block("（二）于2012年11月8日之后开工建设。"),
        Block("第十一条　项目业主申请项目登记前，应当委托审定与核查机构对项目进行审定。"),
        Block(
            "一是开展甲烷排放控制研究。对中国甲烷排放控制现状进行充分的调研，在煤炭开采、农业、城市固体废弃物、污水处理、石油天然气等领域研究制定有效的甲烷减排措施。"
        ),
    )
    chunks = chunk_document(doc)
    assert [(c.paragraph, c.paragraph_end) for c in chunks] == [(1, 3), (4, 4), (5, 5)]
    assert chunks[0].text.endswith("（二）于2012年11月8日之后开工建设。")
