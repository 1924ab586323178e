"""The document viewer (qa.docview): whole documents at /doc/<id>, originals at /doc/<id>/original.

Fast tests read a tiny index directly; slow ones serve qa.webapp.build_server with uvicorn in a
thread (as tests/test_webapp_security.py does) and speak HTTP, and one drives chromium.
"""

from __future__ import annotations

import http.client
import shutil
import sqlite3
from contextlib import ExitStack
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from servers import app_environment, served

from qa import Index, build_index
from qa.answer import Answer, Citation, answer
from qa.docview import (
    NOT_FOUND,
    download_name,
    original_file,
    page_html,
    read_document,
    split_blocks,
)
from qa.render import ask_payload, doc_url, sources_html
from qa.search import Passage

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
SECRET = "内部资料QZX9：不得外传。"
FILLER = "重点排放单位应当建立温室气体排放台账，如实记录排放数据，并按照规定保存原始记录和管理台账不少于五年。"
LAW = (
    "---\ntitle: 碳排放权交易管理示范条例\ndate: 2024-01-25\nissuer: 国务院\n"
    "doc_number: 国务院令第775号\n---\n\n第一章 总则\n\n"
    "第一条 为了规范碳排放权交易及相关活动，加强对温室气体排放的控制，制定本条例。\n\n"
    "第二条 本条例适用于全国碳排放权交易市场。文中的 \\<script>alert(1)\\</script> 只是文字。\n\n"
    "## 第二章 配额管理\n\n第三条 重点排放单位应当履行下列义务：\n\n（一）按时清缴碳排放配额；\n\n"
    "（二）如实报告年度排放情况，不得虚报、瞒报或者拒绝履行排放报告义务，并接受监督检查。\n\n"
    + "".join(f"第{n}条 {FILLER}\n\n" for n in "四五六七八九")
    + "第十条 本条例自2024年5月1日起施行。\n"
)
OLD = (
    "---\ntitle: 碳排放权交易管理旧办法\ndate: 2020-12-31\nissuer: 生态环境部\n"
    "superseded_by: law.md\n---\n\n重点排放单位应当按照旧办法清缴配额，旧办法的规定已经不再适用。\n"
)


class Tags(HTMLParser):
    """Start tags with their attributes, and the text a reader sees."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.tags if "id" in attrs]


@pytest.fixture
def corpus(tiny_corpus: Path) -> Path:
    (tiny_corpus / "law.md").write_text(LAW, encoding="utf-8")
    (tiny_corpus / "old.md").write_text(OLD, encoding="utf-8")
    return tiny_corpus


@pytest.fixture
def index_dir(corpus, tmp_path, fake_embedder) -> Path:
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    return index_dir


@pytest.fixture
def index(index_dir, fake_embedder):
    opened = Index(index_dir, embedder=fake_embedder)
    yield opened
    opened.close()


def stored_text(index_dir: Path, doc_id: str) -> str:
    with sqlite3.connect(index_dir / "index.sqlite") as conn:
        return conn.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]


def moved_outside(index_dir: Path, tmp_path: Path) -> Path:
    """A copy of the index whose law.md row points at a file outside every root."""
    outside = tmp_path / "outside" / "secret.md"
    outside.parent.mkdir()
    outside.write_text(f"# 内部\n\n{SECRET}\n", encoding="utf-8")
    copy = tmp_path / "edited-index"
    shutil.copytree(index_dir, copy)
    with sqlite3.connect(copy / "index.sqlite") as conn:
        conn.execute("UPDATE documents SET path = ? WHERE doc_id = 'law.md'", (str(outside),))
    return copy


# ---- fast: the page, the blocks, the original, the links ------------------------------------


def test_blocks_rebuild_every_document_with_its_paragraph_numbers(index, index_dir):
    for doc in index.documents():
        view = read_document(index, doc["doc_id"])
        assert "\n".join(b.text for b in view.blocks) == stored_text(index_dir, doc["doc_id"])
        numbers = [n for b in view.blocks for n in b.numbers]
        assert numbers == list(range(1, len(numbers) + 1)), doc["doc_id"]
    law = read_document(index, "law.md")
    assert law.legal and law.blocks[0].is_heading and law.blocks[0].text == "第一章 总则"
    item = next(b for b in law.blocks if b.text.startswith("（一）"))
    assert item.numbers == (6,) and not item.is_heading  # a list item joined to its lead-in
    assert read_document(index, "nope.md") is None


def test_a_block_with_its_own_line_break_loses_no_text_and_no_anchor():
    text = "标题\n第一段第一行\n第一段第二行\n第二段"
    blocks = split_blocks(text, [(2, 3, 3, len(text))])
    assert "\n".join(b.text for b in blocks) == text
    assert [n for b in blocks for n in b.numbers] == [1, 2, 3]
    assert blocks[0].is_heading and not blocks[1].is_heading


def test_page_has_every_anchor_article_headings_and_escaped_text(index):
    view = read_document(index, "law.md")
    markup = page_html(view, downloadable=True)
    page = Tags(markup)
    count = sum(len(b.numbers) for b in view.blocks)
    assert [i for i in page.ids() if i.startswith("p")] == [f"p{n}" for n in range(1, count + 1)]
    assert "<h2 " in markup and "第一章 总则</h2>" in markup and "第二章 配额管理</h2>" in markup
    assert '<h4 class="art">第三条</h4>' in markup and '<h4 class="art">第十条</h4>' in markup
    assert "script" not in {tag for tag, _ in page.tags}
    shown = "".join(page.text)
    assert "<script>alert(1)</script>" in shown  # as text
    assert "国务院令第775号" in shown and "行政法规" in shown and "2024-05-01" in shown
    assert 'href="/doc/law.md/original"' in markup
    assert "不是现行规定" not in markup


def test_a_repealed_document_warns_and_names_its_successor(index):
    markup = page_html(read_document(index, "old.md"), downloadable=False)
    assert 'role="alert"' in markup and "已废止" in markup
    assert '<a href="/doc/law.md">《碳排放权交易管理示范条例》</a>' in markup
    assert "/original" not in markup


def test_original_only_inside_the_roots(index, index_dir, corpus, tmp_path, fake_embedder):
    assert original_file(index, "law.md") == (corpus / "law.md").resolve()
    assert original_file(index, "../law.md") is None
    edited = Index(moved_outside(index_dir, tmp_path), embedder=fake_embedder)
    try:
        assert original_file(edited, "law.md") is None
        assert original_file(edited, "market.md") == (corpus / "market.md").resolve()
    finally:
        edited.close()


def test_download_names_are_safe():
    assert download_name(Path("/x/碳市场 通知\r\n(1).PDF")) == "碳市场_通知_1.pdf"
    assert download_name(Path('/x/a";b.md')) == "a_b.md"
    assert download_name(Path("/x/...md")) == "document.md"


@pytest.mark.parametrize(
    ("doc_id", "url"),
    [
        ("law.md", "/doc/law.md#p5"),
        ("upload/a_b.md", "/doc/upload/a_b.md#p5"),
        (
            "https://www.mee.gov.cn/a.html?id=1#x",
            "/doc/https%3A//www.mee.gov.cn/a.html%3Fid%3D1%23x#p5",
        ),
        ("../x 碳.md", "/doc/..%2Fx%20%E7%A2%B3.md#p5"),  # dot segments would be resolved away
    ],
)
def test_doc_links_quote_the_id(doc_id, url):
    assert doc_url(doc_id, 5) == url


def test_source_card_title_opens_the_document_and_the_api_gives_its_url():
    p = Passage(text="未按时清缴的，处以罚款。", doc_id="upload/a b.md", title="碳市场说明",
                source=None, date="2024-02-04", paragraph=7, score=1.0)  # fmt: skip
    answer = Answer(question="q", text="未按时清缴的，处以罚款。[1]", query="q",
                    citations=(Citation(1, p, ((0, 5),)),), found=True)  # fmt: skip
    links = [a for tag, a in Tags(sources_html(answer, 2)).tags if tag == "a"]
    assert links[0]["href"] == "/doc/upload/a%20b.md#p7"
    assert links[0]["target"] == "_blank" and "noopener" in links[0]["rel"]
    assert ask_payload(answer)["citations"][0]["url"] == "/doc/upload/a%20b.md#p7"


# ---- slow: the served app -------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path, fake_embedder, monkeypatch):
    """serve(index_dir, **env) → the base URL of build_server's app over that index."""
    from qa.webapp import build_server

    app_environment(monkeypatch, tmp_path / "gradio")
    with ExitStack() as running:

        def start(index_dir: Path, **env: str) -> str:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            app = build_server(Index(index_dir, embedder=fake_embedder), "127.0.0.1")
            url, _ = running.enter_context(served(app))
            return url

        yield start


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """GET with the request target sent exactly as written (httpx would resolve ../)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.slow
def test_served_page_from_a_citation_link(serve, index, index_dir):
    url = serve(index_dir)
    result = ask_payload(answer("碳排放权交易示范条例第三条规定了什么义务？", 3, index=index))
    cited = next(c for c in result["citations"] if c["doc_id"] == "law.md")
    assert cited["url"] == f"/doc/law.md#p{cited['paragraph']}"
    response = httpx.get(url + cited["url"].split("#")[0], timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # none allowed
    page = Tags(response.text)
    assert f"p{cited['paragraph']}" in page.ids()
    assert [i for i in page.ids() if i.startswith("p")] == [f"p{n}" for n in range(1, 15)]
    assert '<h4 class="art">第三条</h4>' in response.text
    assert "script" not in {tag for tag, _ in page.tags}
    assert "<script>alert(1)</script>" in "".join(page.text)
    # A foreign Host is refused before the route runs, as for the rest of the app.
    foreign = httpx.get(url + "/doc/law.md", headers={"Host": "evil.example"}, timeout=10)
    assert foreign.status_code == 400


@pytest.mark.slow
def test_only_indexed_ids_are_served(serve, index_dir):
    url = serve(index_dir)
    for target in ("/doc/nope.md", "/doc/../../etc/passwd", "/doc/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                   "/doc//etc/passwd", "/doc/%2Fetc%2Fpasswd", "/doc/law.md/../../../etc/passwd",
                   "/doc/%252e%252e%252fetc%252fpasswd", "/doc/nope.md/original",
                   "/doc/../../etc/passwd/original", "/doc//etc/passwd/original"):  # fmt: skip
        status, body = raw_get(url, target)
        assert (status, body.decode()) == (404, NOT_FOUND), target
    assert raw_get(url, "/doc/law%2Emd")[0] == 200  # the id as decoded is an indexed one


@pytest.mark.slow
def test_original_download_only_inside_the_roots(serve, index_dir, corpus, tmp_path):
    url = serve(index_dir)
    response = httpx.get(f"{url}/doc/law.md/original", timeout=10)
    assert response.status_code == 200
    assert response.content == (corpus / "law.md").read_bytes()
    assert response.headers["content-disposition"].startswith('attachment; filename="law.md"')
    assert response.headers["content-type"] == "application/octet-stream"
    edited = serve(moved_outside(index_dir, tmp_path))
    refused = httpx.get(f"{edited}/doc/law.md/original", timeout=10)
    assert (refused.status_code, refused.text) == (404, NOT_FOUND)
    page = httpx.get(f"{edited}/doc/law.md", timeout=10)
    assert page.status_code == 200 and "/original" not in page.text and SECRET not in page.text


@pytest.mark.slow
def test_with_qa_auth_the_viewer_needs_the_login(serve, index_dir):
    url = serve(index_dir, QA_AUTH="reader:s3cret")
    with httpx.Client(base_url=url, timeout=10) as client:
        for path in ("/doc/law.md", "/doc/law.md/original", "/doc/nope.md"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert "第一条" not in response.text and "alert" not in response.text
        assert client.post("/login", data={"username": "reader", "password": "wrong"}).is_error
        assert client.get("/doc/law.md").status_code == 401
        client.post("/login", data={"username": "reader", "password": "s3cret"}).raise_for_status()
        page = client.get("/doc/law.md")
        assert page.status_code == 200 and "第一条" in page.text
        assert client.get("/doc/law.md/original").status_code == 200


@pytest.mark.slow
def test_browser_opens_the_cited_paragraph_highlighted(serve, index_dir, browser):
    url = serve(index_dir)
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, shot in (("light", "docview.png"), ("dark", "docview-dark.png")):
        context = browser.new_context(viewport={"width": 900, "height": 600},
                                      java_script_enabled=False, color_scheme=scheme)  # fmt: skip
        page = context.new_page()
        page.goto(f"{url}/doc/law.md#p13")
        target = page.locator("#p13")
        box = target.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 600
        assert page.locator("#p2").bounding_box()["y"] < 0  # it really scrolled there
        colours = [page.locator(s).evaluate("e => getComputedStyle(e).backgroundColor")
                   for s in ("#p13", "#p12")]  # fmt: skip
        assert colours[0] != colours[1]  # the cited paragraph is highlighted
        assert "第九条" in target.inner_text()
        page.screenshot(path=str(ARTIFACTS / shot))
        context.close()
