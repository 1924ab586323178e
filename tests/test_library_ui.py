"""The Library as a safe workplace: trash and restore without re-embedding, corpus deletions that
stay deleted, per-file results, metadata edits, and write actions only where they are safe."""

from __future__ import annotations

import io
import json

import pytest
from fakes import FakeEmbedder

from qa import Index, build_index
from qa.library import Library
from qa.webapp import writes_enabled

ARTICLE = (
    "# 林业碳汇说明\n\n林业碳汇项目可以申请登记为温室气体自愿减排项目，减排量经核证后可以交易。\n"
)


@pytest.fixture
def library(tiny_corpus, tmp_path) -> Library:
    embedder = FakeEmbedder()
    build_index([tiny_corpus], tmp_path / "index", embedder=embedder)
    return Library(Index(tmp_path / "index", embedder=embedder))


def _upload(tmp_path, name: str, data: bytes | str):
    source = tmp_path / "incoming" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(source)


def _ids(library) -> set[str]:
    return {row[4] for row in library.rows()}


def test_a_deleted_upload_is_restored_from_the_trash_without_embedding(library, tmp_path):
    library.add([_upload(tmp_path, "forest.md", ARTICLE)])
    library.delete("upload/forest.md", confirm="upload/forest.md")
    assert "upload/forest.md" not in _ids(library)
    assert not any(library.folder.iterdir())
    [entry] = library.trash.entries()
    assert entry["title"] == "林业碳汇说明"
    embedder = library.index.embedder
    embedder.embedded.clear()
    assert "embedded 0" in library.restore(entry["entry"])
    assert embedder.embedded == []  # the saved vectors were used
    assert "upload/forest.md" in _ids(library)
    assert library.index.search("林业碳汇项目", k=1, docs=["upload/forest.md"])
    assert library.trash.entries() == []


def test_a_deleted_corpus_document_stays_deleted_until_restored(library, tiny_corpus, tmp_path):
    library.delete("market.md", confirm="market.md")
    assert (tiny_corpus / "market.md").is_file()  # the user's corpus file is never touched
    listed = json.loads((library.index.index_dir / "deleted.json").read_text(encoding="utf-8"))
    assert set(listed) == {"market.md"}
    report = build_index([tiny_corpus], library.index.index_dir, embedder=FakeEmbedder())
    assert "market.md" not in _ids(library)  # the start-up build does not bring it back
    assert any("was deleted in the Library" in w for w in report.warnings)
    library.index.embedder.embedded.clear()
    library.restore(library.trash.entries()[0]["entry"])
    assert "market.md" in _ids(library) and library.index.embedder.embedded == []
    assert json.loads((library.index.index_dir / "deleted.json").read_text("utf-8")) == {}
    report = build_index([tiny_corpus], library.index.index_dir, embedder=FakeEmbedder())
    assert report.removed == 0 and "market.md" in _ids(library)


def test_emptying_the_trash_makes_a_deletion_final(library, tmp_path):
    library.add([_upload(tmp_path, "forest.md", ARTICLE)])
    library.delete("upload/forest.md", confirm="upload/forest.md")
    entry = library.trash.entries()[0]["entry"]
    assert "1" in library.empty_trash()
    with pytest.raises(ValueError, match="not in the trash"):
        library.restore(entry)


def test_every_file_gets_a_line_with_its_reason(library, tmp_path):
    from docx import Document as Docx

    library.add([_upload(tmp_path, "forest.md", ARTICLE)])
    fake_pdf = _upload(tmp_path, "report.pdf", b"<html>not a pdf</html>")
    gbk_bad = _upload(tmp_path, "bad.txt", b"\xff\xfe\x00\xd8A\x00")  # a lone surrogate
    empty = _upload(tmp_path, "empty.md", "# 只有标题\n")
    again = _upload(tmp_path, "forest.md", ARTICLE)
    doc = Docx()
    doc.add_paragraph("海洋碳汇项目正在沿海省份开展试点，监测核算方法正在制定。")
    buffer = io.BytesIO()
    doc.save(buffer)
    good = _upload(tmp_path, "ocean.docx", buffer.getvalue())
    message = library.add([fake_pdf, gbk_bad, empty, again, good])
    lines = message.splitlines()
    assert "- report.pdf：未添加（不是真正的 PDF 文件（已损坏或是其他格式））" in lines
    assert "- bad.txt：未添加（无法识别的文字编码：请另存为 UTF-8）" in lines
    assert "- empty.md：未添加（文件中没有正文段落）" in lines
    assert "- forest.md：未变（已在资料库中）" in lines
    assert "- ocean.docx：已添加" in lines
    assert "1 added" in message  # the build's summary follows
    assert sorted(p.name for p in library.folder.iterdir()) == ["forest.md", "ocean.docx"]


def test_metadata_of_uploads_is_stored_and_indexed(library, tmp_path):
    from docx import Document as Docx

    library.add([_upload(tmp_path, "forest.md", ARTICLE)])
    library.edit("upload/forest.md", {"date": "2024年3月1日", "issuer": "国家林草局",
                                      "level": "部门规章", "status": "已废止"})  # fmt: skip
    text = (library.folder / "forest.md").read_text(encoding="utf-8")
    assert text.startswith("---\n") and "issuer: 国家林草局" in text
    row = next(d for d in library.index.documents() if d["doc_id"] == "upload/forest.md")
    assert row["date"] == "2024-03-01" and row["issuer"] == "国家林草局"
    authority = library.index.authorities()["upload/forest.md"]
    assert authority.level == "部门规章" and authority.status == "已废止"
    doc = Docx()
    doc.add_paragraph("海洋碳汇项目正在沿海省份开展试点，监测核算方法正在制定。")
    buffer = io.BytesIO()
    doc.save(buffer)
    library.add([_upload(tmp_path, "ocean.docx", buffer.getvalue())])
    library.edit(
        "upload/ocean.docx", {"title": "海洋碳汇试点通知", "doc_number": "海发〔2024〕1号"}
    )
    assert (library.folder / "ocean.docx.meta.yaml").is_file()
    titles = {d["doc_id"]: d["title"] for d in library.index.documents()}
    assert titles["upload/ocean.docx"] == "海洋碳汇试点通知"
    for bad, field in (({"level": "圣旨"}, "level"), ({"date": "someday"}, "date")):
        with pytest.raises(ValueError, match=field):
            library.edit("upload/forest.md", bad)
    with pytest.raises(ValueError, match="only uploaded documents"):
        library.edit("market.md", {"title": "x"})


def test_writes_need_a_login_unless_bound_to_loopback(monkeypatch):
    monkeypatch.delenv("QA_AUTH", raising=False)
    assert writes_enabled("127.0.0.1") and writes_enabled("localhost") and writes_enabled("::1")
    assert not writes_enabled("0.0.0.0") and not writes_enabled("192.168.1.5")
    monkeypatch.setenv("QA_AUTH", "editor:secret")
    assert writes_enabled("0.0.0.0")


@pytest.mark.slow
def test_browser_results_confirmed_delete_and_fresh_lists_in_every_tab(tmp_path, monkeypatch):
    from servers import chromium
    from test_ui_polish import serving, shot

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for name in ("QA_ADMIN_TOKEN", "QA_AUTH"):
        monkeypatch.delenv(name, raising=False)
    forest = _upload(tmp_path, "forest.md", ARTICLE)
    fake_pdf = _upload(tmp_path, "scan.pdf", b"GIF89a not a pdf")
    with serving(tmp_path / "app") as (url, index_dir, _), chromium() as browser:
        first, second = (browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                         for _ in range(2))  # fmt: skip
        for page in (first, second):
            page.goto(url)
            page.get_by_role("tab", name="资料库").click()
            page.wait_for_selector("#qa-table :text('甲烷排放控制要点')", timeout=30_000)
        first.locator("#qa-upload input[type=file]").set_input_files([forest, fake_pdf])
        first.get_by_role("button", name="添加并更新索引").click()
        first.wait_for_function("() => document.querySelector('#qa-status').innerText"
                                ".includes('scan.pdf')", timeout=60_000)  # fmt: skip
        status = first.locator("#qa-status").inner_text()
        assert "forest.md：已添加" in status and "scan.pdf：未添加（不是真正的 PDF" in status
        assert "林业碳汇说明" in first.locator("#qa-table").inner_text()  # no reload needed
        shot(first, "library-per-file-results")
        second.reload()
        second.get_by_role("tab", name="资料库").click()
        second.wait_for_selector("#qa-table :text('林业碳汇说明')", timeout=30_000)
        # Nothing is preselected; choosing shows a confirm button naming the document.
        assert first.locator("#qa-confirm").count() == 0 or not first.locator(
            "#qa-confirm").is_visible()  # fmt: skip
        first.locator("#qa-victim input").click()
        first.get_by_role("option", name="林业碳汇说明").click()
        confirm = first.get_by_role("button", name="确认删除《林业碳汇说明》")
        confirm.wait_for(timeout=30_000)
        shot(first, "library-delete-confirm")
        assert "林业碳汇说明" in first.locator("#qa-table").inner_text()  # not yet deleted
        confirm.click()
        first.wait_for_function("() => document.querySelector('#qa-status').innerText"
                                ".includes('1 removed')", timeout=60_000)  # fmt: skip
        assert "林业碳汇说明" not in first.locator("#qa-table").inner_text()
        assert not list((index_dir / "uploads").iterdir())
        assert (index_dir / "trash").is_dir()
