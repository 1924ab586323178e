"""The Library behind the app's upload and delete buttons, with the fake embedder."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

import qa.library
import qa.webapp
from qa import Index, IndexBusyError, build_index
from qa.library import Library

ARTICLE = (
    "# 林业碳汇说明\n\n林业碳汇项目可以申请登记为温室气体自愿减排项目，减排量经核证后可以交易。\n"
)


@pytest.fixture
def library(tiny_corpus, tmp_path, fake_embedder) -> Library:
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Library(Index(tmp_path / "index", embedder=fake_embedder))


def test_upload_is_stored_under_a_safe_name_and_indexed(library, tmp_path):
    upload = tmp_path / "incoming"
    upload.mkdir()
    (upload / "林业 碳汇(1).md").write_text(ARTICLE, encoding="utf-8")
    summary = library.add([str(upload / "林业 碳汇(1).md")])
    assert "1 added" in summary
    assert [p.name for p in library.folder.iterdir()] == ["林业_碳汇_1.md"]
    titles = [row[0] for row in library.rows()]
    assert "林业碳汇说明" in titles and "甲烷排放控制要点" in titles  # the others are kept


def test_oversized_or_unsupported_uploads_are_refused_and_nothing_is_copied(
    library, tmp_path, monkeypatch
):
    big = tmp_path / "big.txt"
    big.write_text("碳" * 2000, encoding="utf-8")
    monkeypatch.setattr(qa.library, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(ValueError, match="larger than"):
        library.add([str(big)])
    svg = tmp_path / "x.svg"
    svg.write_text("<svg onload=alert(1)></svg>", encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported type"):
        library.add([str(svg)])
    assert not library.folder.exists() or not any(library.folder.iterdir())


def test_delete_removes_the_document_and_its_uploaded_file(library, tmp_path):
    source = tmp_path / "forest.md"
    source.write_text(ARTICLE, encoding="utf-8")
    library.add([str(source)])
    doc_id = next(row[4] for row in library.rows() if row[0] == "林业碳汇说明")
    with pytest.raises(ValueError, match="confirm: repeat the document id"):
        library.delete(doc_id)  # no confirmation: nothing happens
    assert "林业碳汇说明" in [row[0] for row in library.rows()]
    assert "1 removed" in library.delete(doc_id, confirm=doc_id)
    assert "林业碳汇说明" not in [row[0] for row in library.rows()]
    assert not any(library.folder.iterdir())  # or the next start-up would index it again
    with pytest.raises(ValueError, match="not in the library"):
        library.delete(doc_id, confirm=doc_id)


def test_a_second_update_is_told_the_library_is_busy(library, tmp_path):
    source = tmp_path / "forest.md"
    source.write_text(ARTICLE, encoding="utf-8")
    with open(library.index.index_dir / "write.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(IndexBusyError):
            library.add([str(source)])
    assert "林业碳汇说明" not in [row[0] for row in library.rows()]
    assert not any(library.folder.iterdir())  # or a later build would index it unasked


class BrokenIndex:
    """An index that fails the way a bug would: with details no user should see."""

    def search_vector(self, *args, **kwargs):
        raise RuntimeError("sqlite3 error in /srv/secret/index.sqlite at line 42")

    titles = search_vector  # read before the search: the named documents narrow it

    class embedder:
        model_id = "broken"

        @staticmethod
        def embed_queries(texts):
            import numpy as np

            return np.ones((len(texts), 4), dtype=np.float32)


def test_an_unhandled_error_shows_a_generic_message_and_logs_the_details(caplog):
    updates = list(
        qa.webapp.chat_events(BrokenIndex(), "碳市场配额怎么清缴？", [], [], None, "", "", 5, "zh")
    )
    chat = updates[-1][0]
    shown = chat[-1]["content"]
    assert "请稍后再试" in shown
    assert "secret" not in shown and "Traceback" not in shown and "sqlite3" not in shown
    assert "secret" in caplog.text  # the details go to the log


def test_a_bad_filter_is_explained_to_the_user(library):
    updates = list(
        qa.webapp.chat_events(library.index, "配额", [], [], None, "last year", "", 5, "zh")
    )
    assert "起始日期" in updates[-1][0][-1]["content"]  # in the UI language, naming the field


def test_an_upload_never_replaces_a_corpus_document(library, tmp_path):
    def corpus_market() -> set[str]:
        return {p.text for p in library.index.search("碳排放配额", k=10, docs=["market.md"])}

    before = corpus_market()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    forged = "---\nid: market.md\ntitle: 碳市场配额管理说明\n---\n\n到2099年碳排放配额全部改为有偿拍卖。\n"
    (incoming / "market.md").write_text(forged, encoding="utf-8")
    assert "1 added" in library.add([str(incoming / "market.md")])
    assert before and corpus_market() == before
    assert {"market.md", "upload/market.md"} <= {row[4] for row in library.rows()}
    upload = library.index.search("2099年碳排放配额", k=3, docs=["upload/market.md"])
    assert upload and "2099" in upload[0].text


def test_names_that_reduce_to_the_same_safe_name_stay_separate_documents(library, tmp_path):
    texts = {
        "a b.md": "甲项目减排说明。",
        "a_b.md": "乙项目减排说明。",
        "ａ（b）.md": "丙项目减排说明。",
    }
    for n, (name, text) in enumerate(texts.items()):
        source = tmp_path / f"in{n}" / name
        source.parent.mkdir()
        source.write_text(f"# 项目{n}\n\n{text}\n", encoding="utf-8")
        assert "1 added" in library.add([str(source)])
    assert sorted(p.name for p in library.folder.iterdir()) == ["a_b-2.md", "a_b-3.md", "a_b.md"]
    uploaded = {row[4] for row in library.rows() if row[4].startswith("upload/")}
    assert uploaded == {"upload/a_b.md", "upload/a_b-2.md", "upload/a_b-3.md"}


def test_an_unreadable_or_duplicate_upload_is_removed_and_the_user_told_why(library, tmp_path):
    empty = tmp_path / "headings.md"
    empty.write_text("# 只有标题\n\n## 没有正文\n", encoding="utf-8")
    refused = library.add([str(empty)], lang="en")  # the only upload: nothing usable to build
    assert "headings.md: refused (empty: no paragraphs with text)" in refused
    assert str(tmp_path) not in refused
    assert not any(library.folder.iterdir())
    library.add([str(_article(tmp_path))])
    copy = tmp_path / "copy" / "market.md"
    copy.parent.mkdir()
    copy.write_text(
        (tmp_path / "corpus" / "market.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    message = library.add([str(copy)])
    assert "market.md：未添加（与《碳市场配额管理说明》内容相同）" in message
    assert str(tmp_path) not in message
    assert [p.name for p in library.folder.iterdir()] == ["forest.md"]


def test_a_failed_copy_leaves_no_part_file(library, tmp_path, monkeypatch):
    def broken_copy(source, target):
        Path(target).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qa.library.shutil, "copyfile", broken_copy)
    with pytest.raises(OSError):
        library.add([str(_article(tmp_path))])
    assert not any(library.folder.iterdir())
    (library.folder / ".forest.md.part").write_bytes(b"left by a crash")
    assert not any(Library(library.index).folder.iterdir())


def _article(tmp_path: Path) -> Path:
    source = tmp_path / "forest.md"
    source.write_text(ARTICLE, encoding="utf-8")
    return source
