"""The Library behind the app's upload and delete buttons, with the fake embedder."""

from __future__ import annotations

import fcntl

import pytest

import qa.webapp
from qa import Index, IndexBusyError, build_index
from qa.webapp import Library

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
    monkeypatch.setattr(qa.webapp, "MAX_UPLOAD_BYTES", 1000)
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
    assert "1 removed" in library.delete(doc_id)
    assert "林业碳汇说明" not in [row[0] for row in library.rows()]
    assert not any(library.folder.iterdir())  # or the next start-up would index it again
    with pytest.raises(ValueError, match="not in the library"):
        library.delete(doc_id)


def test_a_second_update_is_told_the_library_is_busy(library, tmp_path):
    source = tmp_path / "forest.md"
    source.write_text(ARTICLE, encoding="utf-8")
    with open(library.index.index_dir / "write.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(IndexBusyError):
            library.add([str(source)])
    assert "林业碳汇说明" not in [row[0] for row in library.rows()]


class BrokenIndex:
    """An index that fails the way a bug would: with details no user should see."""

    def search_vector(self, *args, **kwargs):
        raise RuntimeError("sqlite3 error in /srv/secret/index.sqlite at line 42")

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
    assert "date" in updates[-1][0][-1]["content"]
