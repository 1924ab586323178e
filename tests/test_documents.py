"""Ingestion: formats, encodings, cleaning and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEED

from qa.documents import iter_corpus_files, read_document
from qa.errors import IngestError


def test_seed_article_metadata_and_paragraphs():
    doc = read_document(SEED, SEED.parent)
    assert doc.title == "生态环境部就我国如何落实中美气候联合宣言相关内容答复"
    assert doc.date == "2021-11-25"
    assert doc.doc_id == "000_431dc65471ed79db.txt"
    assert doc.source == "新浪财经"
    texts = [block.text for block in doc.blocks]
    assert len(texts) == 17
    assert texts[0].startswith("11月25日，生态环境部应对气候变化司副司长陆新明")
    assert texts[-1].startswith("五是加强国际合作。")
    headings = [(i + 1, b.text) for i, b in enumerate(doc.blocks) if b.is_heading]
    assert headings == [
        (3, "将尽快建立强化气候行动工作组"),
        (9, "将进一步推动开展中国控制甲烷排放行动"),
    ]


def test_seed_article_drops_page_furniture_and_indentation():
    doc = read_document(SEED)
    text = doc.text
    for furniture in (
        "责任编辑",
        "新浪财经APP",
        "appendQr",
        "二维码",
        "news_keyword",
        "<",
        "&#123;",
    ):
        assert furniture not in text
    assert not any(block.text.startswith(("\u3000", " ")) for block in doc.blocks)
    # A real space inside the original wording survives cleaning.
    assert "《中共中央 国务院关于完整准确全面贯彻新发展理念 做好碳达峰、碳中和工作的意见》" in text


def test_markdown_with_front_matter(tiny_corpus: Path):
    doc = read_document(tiny_corpus / "methane.md", tiny_corpus)
    assert (doc.title, doc.date, doc.issuer, doc.doc_id) == (
        "甲烷排放控制要点", "2023-11-07", "生态环境部", "methane.md"
    )  # fmt: skip
    assert [b.text for b in doc.blocks if b.is_heading] == [
        "甲烷排放控制要点",
        "一、主要目标",
        "二、重点任务",
    ]
    assert doc.blocks[2].text.startswith("到2025年")


def test_markdown_emphasis_follows_commonmark(tmp_path: Path):
    path = tmp_path / "a.md"
    path.write_text(
        "**第一条**　为了规范交易。\n\n2.**省（区、市）**年度名录（**行业）模板\n", encoding="utf-8"
    )
    doc = read_document(path)
    assert doc.blocks[0].text == "第一条\u3000为了规范交易。"
    assert doc.blocks[1].text == "2.**省（区、市）**年度名录（**行业）模板"


def test_markdown_without_front_matter_takes_title_from_heading(tmp_path: Path):
    path = tmp_path / "plan.md"
    path.write_text(
        "# 行动方案\n\n第一段内容说明了总体目标和工作要求。\n第二行是同一段的续行。\n",
        encoding="utf-8",
    )
    doc = read_document(path)
    assert doc.title == "行动方案"
    assert doc.blocks[1].text == "第一段内容说明了总体目标和工作要求。第二行是同一段的续行。"


def test_html_page_without_front_matter(tiny_corpus: Path):
    doc = read_document(tiny_corpus / "news.html", tiny_corpus)
    assert doc.title == "城市公交电动化进展"
    body = [b.text for b in doc.blocks if not b.is_heading]
    assert body == [
        "截至去年年底，全国新能源公交车保有量超过五十万辆，占公交车总量的比重持续上升。",
        "多地出台补贴政策，支持老旧柴油公交车提前淘汰，并配套建设充电基础设施。",
    ]
    for hidden in ("script-text", "color:red", "comment", "alert", "首页", "责任编辑"):
        assert hidden not in doc.text


def test_html_title_tag_used_without_h1(tmp_path: Path):
    path = tmp_path / "page.htm"
    path.write_text(
        "<title>碳市场周报 - 示例网</title><p>本周全国碳市场成交量环比上升。</p>", encoding="utf-8"
    )
    assert read_document(path).title == "碳市场周报"


def test_plain_text_one_paragraph_per_line(tmp_path: Path):
    path = tmp_path / "notice.txt"
    path.write_text(
        "关于做好工作的通知\n\n第一条　各单位应当按时报送数据。\n第二条　逾期未报送的，予以通报。\n",
        encoding="utf-8",
    )
    doc = read_document(path)
    assert doc.title == "关于做好工作的通知"
    assert [b.text for b in doc.blocks[1:]] == [
        "第一条\u3000各单位应当按时报送数据。",
        "第二条\u3000逾期未报送的，予以通报。",
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_encodings_are_detected(tmp_path: Path, encoding: str):
    path = tmp_path / "doc.md"
    path.write_bytes(
        "---\ntitle: 碳达峰行动\n---\n\n推动能源结构调整，严控煤炭消费增长。\n".encode(encoding)
    )
    doc = read_document(path)
    assert doc.title == "碳达峰行动"
    assert doc.blocks[0].text == "推动能源结构调整，严控煤炭消费增长。"


def test_undecodable_file_is_named(tmp_path: Path):
    path = tmp_path / "broken.txt"
    path.write_bytes("正常的开头".encode() + b"\xff\xfe\xfa\x80\x81 tail")
    with pytest.raises(IngestError, match=r"broken\.txt.*cannot be decoded.*UTF-8"):
        read_document(path)


def test_binary_file_is_refused(tmp_path: Path):
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(IngestError, match="image.txt"):
        read_document(path)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("- just\n- a list", "must be a mapping"),
        ("title: [unclosed", "not valid YAML"),
        ("title: x\nrun: !!python/object/apply:os.system ['touch PWNED']", "not valid YAML"),
    ],
)
def test_bad_front_matter_is_refused_and_never_executed(
    tmp_path: Path, monkeypatch, front, message
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.md"
    path.write_text(f"---\n{front}\n---\n\n正文内容。\n", encoding="utf-8")
    with pytest.raises(IngestError, match=rf"bad\.md: .*{message}"):
        read_document(path)
    assert not (tmp_path / "PWNED").exists()


def test_file_without_paragraphs_is_refused(tmp_path: Path):
    path = tmp_path / "empty.html"
    path.write_text("<html><body><script>x()</script>\n\n</body></html>", encoding="utf-8")
    with pytest.raises(IngestError, match="empty.html: no paragraphs"):
        read_document(path)


def test_oversized_file_is_refused(tmp_path: Path):
    path = tmp_path / "huge.txt"
    path.write_text("碳" * 2000, encoding="utf-8")
    with pytest.raises(IngestError, match="huge.txt: .*over the"):
        read_document(path, max_bytes=1000)


def test_corpus_listing_skips_housekeeping_and_hidden_files(tmp_path: Path):
    for name in ("a.md", "SOURCES.md", "README.md", ".hidden.md", "b.xls", "sub/c.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path)] == [
        "a.md",
        "sub/c.txt",
    ]


def test_policy_corpus_ingests_completely(policy_corpus: Path):
    docs = [read_document(p, policy_corpus) for p in iter_corpus_files(policy_corpus)]
    assert len(docs) == 9  # the seed and the eight official texts
    for doc in docs:
        assert doc.title and len(doc.blocks) > 10, doc.doc_id
        assert not any(marker in doc.text for marker in ("<br", "<center", "](", "\n#")), doc.doc_id
    by_id = {doc.doc_id: doc for doc in docs}
    assert by_id["methane-action-plan-2023.md"].date == "2023-11-07"
    assert by_id["fixed-asset-energy-carbon-review-measures-2025.md"].date is None
