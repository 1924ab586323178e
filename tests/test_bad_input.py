"""Bad input: hostile or odd text gives a clear message or a normal result, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Index, build_index
from qa.documents import MAX_BLOCKS, read_document
from qa.errors import IngestError
from qa.text import tokenize


@pytest.mark.parametrize(
    ("index_side", "query_side"),
    [
        ("ABC123", "ＡＢＣ１２３"),
        ("GB 3095", "ＧＢ　３０９５"),
        ("𠮷野家", "𠮷野家"),
        ("音樂教育", "音\uf95c教育"),
    ],
)
def test_index_and_query_produce_the_same_tokens(index_side, query_side):
    assert tokenize(index_side) == tokenize(query_side)


def test_full_width_and_extension_characters_are_found(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# 标准\n\n执行ABC123号文件，颗粒物排放限值为每立方米100毫克。\n\n"
        "𠮷野家门店全面推行节能改造，显著减少能源消耗。\n\n第三段说明其他单位的监督检查安排。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "i", embedder=fake_embedder)
    index = Index(tmp_path / "i", embedder=fake_embedder)
    assert "ABC123" in index.search("ＡＢＣ１２３号文件", k=1)[0].text
    [hit] = index.search("𠮷野家", k=1)
    assert hit.text.startswith("𠮷野家") and hit.lexical_score > 0


def test_html_never_leaks_scripts_styles_comments_or_handlers(tmp_path: Path):
    path = tmp_path / "evil.html"
    path.write_text(
        "<html><head><style>body{color:red}</style><script>steal()</script></head><body>"
        "<h1>标题</h1><p onmouseover=\"alert('x')\">正文第一段，说明碳市场建设情况。</p>"
        "<!-- <p>注释里的段落</p> --><noscript>请启用脚本</noscript>"
        "<p>第二段<script>document.write('注入')</script>继续说明配额分配。</p>"
        "<template><p>模板内容</p></template><p style='display:none'>隐藏段落</p></body></html>",
        encoding="utf-8",
    )
    text = read_document(path).text
    for leaked in (
        "color:red",
        "steal",
        "alert",
        "onmouseover",
        "注释里的段落",
        "请启用脚本",
        "注入",
        "模板内容",
        "隐藏段落",
    ):
        assert leaked not in text
    assert "第二段继续说明配额分配。" in text


def test_file_with_too_many_paragraphs_is_refused(tmp_path: Path):
    path = tmp_path / "flood.txt"
    path.write_text("\n".join(f"第{i}段内容。" for i in range(MAX_BLOCKS + 10)), encoding="utf-8")
    with pytest.raises(IngestError, match=r"flood\.txt: .*paragraphs, over the .* limit"):
        read_document(path)


@pytest.mark.parametrize("query", ["", " \t\n", "，。！？", "？？？", "!!!", "……——"])
def test_empty_and_punctuation_queries(tiny_corpus, tmp_path, fake_embedder, query):
    build_index([tiny_corpus], tmp_path / "i", embedder=fake_embedder)
    assert Index(tmp_path / "i", embedder=fake_embedder).search(query) == []


def test_twenty_thousand_character_query(tiny_corpus, tmp_path, fake_embedder):
    build_index([tiny_corpus], tmp_path / "i", embedder=fake_embedder)
    hits = Index(tmp_path / "i", embedder=fake_embedder).search("甲烷排放" * 5000, k=3)
    assert len(hits) == 3 and hits[0].doc_id == "methane.md"


def test_fts_syntax_in_queries_is_plain_text(tiny_corpus, tmp_path, fake_embedder):
    build_index([tiny_corpus], tmp_path / "i", embedder=fake_embedder)
    index = Index(tmp_path / "i", embedder=fake_embedder)
    for query in [
        '"甲烷',
        "甲烷 OR",
        "NEAR(甲烷 配额)",
        "配额*",
        "a:b",
        "^甲烷",
        "甲烷 AND NOT 配额",
    ]:
        assert isinstance(index.search(query, k=3), list)


def test_traditional_and_simplified_match_both_ways(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "tw.md").write_text(
        "# 碳排放權交易管理暫行條例\n\n重點排放單位應當按時足額清繳碳排放配額。\n\n另一段說明生態環境主管部門對其他單位的監督檢查安排。\n",
        encoding="utf-8",
    )
    (corpus / "cn.md").write_text(
        "# 甲烷排放控制行动方案\n\n推进煤矿瓦斯抽采利用，减少甲烷排放。\n\n另一段说明甲烷排放的监测、核算、报告和核查体系建设。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "i", embedder=fake_embedder)
    index = Index(tmp_path / "i", embedder=fake_embedder)
    [tw] = index.search("碳排放权交易 清缴配额", k=1)
    assert (
        tw.doc_id == "tw.md" and tw.text == "重點排放單位應當按時足額清繳碳排放配額。"
    )  # displayed as written
    [cn] = index.search("煤礦瓦斯抽採利用", k=1)
    assert cn.doc_id == "cn.md" and cn.lexical_score > 0
