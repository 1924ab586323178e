"""Web pages by URL: a local HTTP server stands in for the web (no internet here)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from qa import Index
from qa.cli import build_main
from qa.documents import read_document
from qa.fetch import FetchError, check_url, snapshot

PAGES = Path(__file__).parent / "data" / "pages"


@pytest.fixture(scope="module")
def server():
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/news.html")
                self.end_headers()
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(PAGES))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_snapshot_keeps_article_title_date_and_url(server, tmp_path):
    url = f"{server}/news.html"
    page = snapshot(url, tmp_path, allow_private=True)
    front = yaml.safe_load(page.path.read_text(encoding="utf-8").split("---")[1])
    assert front == {"title": "全国碳市场扩围：钢铁、水泥、铝冶炼行业纳入管理", "url": url,
                     "date": "2025-03-26", "source": "示例财经网"}  # fmt: skip
    doc = read_document(page.path, tmp_path)
    assert doc.doc_id == url and doc.source == url and doc.date == "2025-03-26"
    assert [b.text for b in doc.blocks] == [
        "生态环境部近日印发《全国碳排放权交易市场覆盖钢铁、水泥、铝冶炼行业工作方案》，标志着全国碳市场首次扩大行业覆盖范围。",
        "根据工作方案，钢铁、水泥、铝冶炼行业将新增纳入重点排放单位约1500家，新增覆盖二氧化碳排放量约30亿吨，占全国二氧化碳排放总量的20%以上。",
        "工作方案明确，2024年度为上述行业的首个管控年度，2027年前配额以免费分配为主，之后逐步引入有偿分配。",
        "业内人士表示，扩围将进一步发挥碳市场在控制温室气体排放、推动行业绿色低碳转型方面的作用。",
    ]
    for furniture in ("首页", "网友", "相关阅读", "责任编辑", "版权", "tracker"):
        assert furniture not in doc.text


def test_redirects_are_followed(server, tmp_path):
    page = snapshot(f"{server}/moved", tmp_path, allow_private=True)
    assert page.title.startswith("全国碳市场扩围")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.html", "javascript:alert(1)", "/etc/passwd"]
)
def test_other_schemes_are_refused(url):
    with pytest.raises(FetchError, match="only http and https"):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.8", "192.168.1.1", "169.254.169.254", "[::1]"]
)
def test_private_addresses_need_allow_private(host):
    with pytest.raises(FetchError, match="private or local address.*--allow-private"):
        check_url(f"http://{host}/page.html")


def test_missing_page_is_a_clear_error(server, tmp_path):
    with pytest.raises(FetchError, match="404"):
        snapshot(f"{server}/nope.html", tmp_path, allow_private=True)


def test_cli_indexes_a_url_and_cites_it(server, tmp_path, monkeypatch, fake_embedder, capsys):
    import qa.embedding

    monkeypatch.setattr(qa.embedding, "load_embedder", lambda name=None: fake_embedder)
    index_dir = tmp_path / "index"
    url = f"{server}/news.html"
    assert build_main(["--url", url, "--allow-private", "--index-dir", str(index_dir), "-q"]) == 0
    assert capsys.readouterr().out.startswith("1 documents (1 added")
    [hit] = Index(index_dir, embedder=fake_embedder).search(
        "钢铁水泥铝冶炼新增纳入多少家重点排放单位", k=1
    )
    assert (hit.doc_id, hit.source, hit.date) == (url, url, "2025-03-26")
    # A later plain build keeps the fetched page in sync instead of dropping it.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# 甲烷\n\n推进煤矿瓦斯抽采利用，减少甲烷排放。\n", encoding="utf-8"
    )
    assert build_main(["--corpus", str(corpus), "--index-dir", str(index_dir), "-q"]) == 0
    assert "2 documents (1 added, 0 updated, 0 removed, 1 unchanged)" in capsys.readouterr().out


def test_cli_refuses_private_url_without_flag(tmp_path, capsys):
    assert (
        build_main(["--url", "http://127.0.0.1:9/x.html", "--index-dir", str(tmp_path / "i")]) == 1
    )
    assert "private or local address" in capsys.readouterr().err
