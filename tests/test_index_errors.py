"""Index error paths: each failure on disk becomes one clear QAError, never a raw exception."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

import qa.store
import qa.writer
from qa import Index, build_index
from qa.build import model_for, remove_documents
from qa.errors import (
    IndexCorruptError,
    IndexMissingError,
    IndexReadOnlyError,
    IndexWriteError,
    ModelMismatchError,
    QAError,
)
from qa.integrity import move_aside
from qa.writer import Writer

HYDROGEN = "# 氢能\n\n氢能产业发展规划提出加快绿氢示范应用，推动可再生能源制氢。\n"


def _build(corpus: Path, index_dir: Path, embedder, **kwargs):
    return build_index([corpus], index_dir, embedder=embedder, **kwargs)


def _doc_ids(passages) -> set[str]:
    return {p.doc_id for p in passages}


def _other_index(tmp_path: Path, embedder) -> Path:
    """A second, different index built in a folder of its own (to move into place)."""
    corpus = tmp_path / "other-corpus"
    corpus.mkdir()
    (corpus / "hydrogen.md").write_text(HYDROGEN, encoding="utf-8")
    staging = tmp_path / "staging"
    _build(corpus, staging, embedder)
    return staging


# -- 1. a full disk in the middle of the SQLite transaction


def _full_after_current_size(real_connect):
    def connect(path, *args, **kwargs):
        conn = real_connect(path, *args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
        return conn

    return connect


class _FullAtManifest(sqlite3.Connection):
    def executemany(self, sql, rows):
        if "INTO meta" in sql:
            raise sqlite3.OperationalError("database or disk is full")
        return super().executemany(sql, rows)


def _full_at_manifest(path, *args, **kwargs):
    conn = sqlite3.connect(path, factory=_FullAtManifest, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


@pytest.mark.parametrize("where", ["inserting passages", "writing the manifest"])
def test_full_disk_during_the_transaction_keeps_the_previous_index(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch, where
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3)
    (tiny_corpus / "long.md").write_text(
        "# 碳市场扩容\n\n"
        + "\n\n".join(
            f"第{i}段：碳市场扩容覆盖钢铁、水泥和铝冶炼行业，编号{i}。" for i in range(300)
        ),
        encoding="utf-8",
    )
    full = _full_after_current_size(qa.store.connect) if where == "inserting passages" else None
    monkeypatch.setattr(qa.writer, "connect", full or _full_at_manifest)
    with pytest.raises(IndexWriteError, match=r"database or disk is full.*free some disk space"):
        _build(tiny_corpus, index_dir, fake_embedder)
    monkeypatch.undo()

    index = Index(index_dir, embedder=fake_embedder)
    assert index.search("甲烷回收利用", k=3) == expected
    assert "long.md" not in {d["doc_id"] for d in index.documents()}
    assert [p.name for p in index_dir.glob("vectors-*")] == ["vectors-000001.faiss"]
    assert [p.name for p in index_dir.glob("terms-*")] == ["terms-000001.npz"]
    assert _build(tiny_corpus, index_dir, fake_embedder).added == 1  # with space again


# -- 2. a read-only index folder


def _deny_writes_under(folder: Path, monkeypatch) -> None:
    """os.access as for a non-root user of a 0o555 folder of 0o444 files (root ignores the bits)."""
    real_access = os.access
    folder = folder.resolve()

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(folder):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def _chmod_tree(folder: Path, files: int, folders: int) -> None:
    for path in folder.iterdir():
        path.chmod(files)
    folder.chmod(folders)


@pytest.mark.parametrize("how", ["permission bits", "read-only database"])
def test_building_into_a_read_only_folder_says_so(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch, how
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    (tiny_corpus / "market.md").unlink()
    if how == "permission bits":
        _chmod_tree(index_dir, 0o444, 0o555)
        _deny_writes_under(index_dir, monkeypatch)
    else:  # e.g. a read-only mount: SQLite itself refuses the write
        real_connect = qa.store.connect
        monkeypatch.setattr(qa.writer, "connect", lambda path, *a, **k: real_connect(path, True))
    try:
        for attempt in (
            lambda: _build(tiny_corpus, index_dir, fake_embedder),
            lambda: _build(tiny_corpus, index_dir, fake_embedder, rebuild=True),
            lambda: remove_documents(["news.html"], index_dir),
        ):
            with pytest.raises(IndexReadOnlyError, match=r"is read-only; ") as caught:
                attempt()
            assert "corrupt" not in str(caught.value) and "--rebuild" not in str(caught.value)
        assert isinstance(caught.value, IndexWriteError)  # "saving failed", for callers
        assert "market.md" in _doc_ids(Index(index_dir, embedder=fake_embedder).search("配额", k=8))
    finally:
        _chmod_tree(index_dir, 0o644, 0o755)
    assert not list(index_dir.glob("*.corrupt-*"))


def test_a_read_only_folder_is_served_when_sqlite_cannot_open_it_normally(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch
):
    # A WAL database in a folder the reader may not write: SQLite cannot create its -shm file
    # and refuses (SQLITE_READONLY_DIRECTORY, as seen for a non-root user), which is not damage.
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3)
    _deny_writes_under(index_dir, monkeypatch)
    real_connect = qa.store.connect

    def connect(path, readonly, immutable=False):
        if not immutable:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return real_connect(path, readonly, immutable)

    monkeypatch.setattr(qa.store, "connect", connect)
    assert Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3) == expected
    assert model_for(index_dir) == fake_embedder.model_id  # the CLI loads the right model


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_folder_still_serves_for_a_normal_user(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3)
    _chmod_tree(index_dir, 0o444, 0o555)
    try:
        assert Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3) == expected
        with pytest.raises(IndexReadOnlyError, match="is read-only; "):
            _build(tiny_corpus, index_dir, fake_embedder, rebuild=True)
    finally:
        _chmod_tree(index_dir, 0o644, 0o755)


# -- 3. --rebuild over a file that is not a database


def test_rebuild_moves_a_file_that_is_not_a_database_aside(
    tiny_corpus, tmp_path, fake_embedder, caplog
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    garbage = random.Random(3).randbytes(20_000)
    (index_dir / "index.sqlite").write_bytes(garbage)
    with pytest.raises(IndexCorruptError, match="--rebuild"):  # a plain build refuses
        _build(tiny_corpus, index_dir, fake_embedder)
    assert (index_dir / "index.sqlite").read_bytes() == garbage

    report = _build(tiny_corpus, index_dir, fake_embedder, rebuild=True)
    assert (report.added, report.documents, report.passages) == (3, 3, 8)
    [moved] = index_dir.glob("index.sqlite.corrupt-*")
    assert moved.read_bytes() == garbage
    assert str(moved) in caplog.text and "not a database" in caplog.text
    assert "methane.md" in _doc_ids(Index(index_dir, embedder=fake_embedder).search("甲烷", k=3))


def test_cli_rebuild_over_a_file_that_is_not_a_database(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch, capsys, caplog
):
    import qa.embedding
    from qa.cli import build_main

    monkeypatch.setattr(qa.embedding, "load_embedder", lambda *args, **kwargs: fake_embedder)
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "index.sqlite").write_bytes(b"\x00garbage\xff" * 500)
    argv = ["--corpus", str(tiny_corpus), "--index-dir", str(index_dir), "-q"]
    assert build_main(argv) == 1
    assert "--rebuild" in capsys.readouterr().err
    assert build_main([*argv, "--rebuild"]) == 0
    assert capsys.readouterr().out.startswith("3 documents (3 added")
    [moved] = index_dir.glob("index.sqlite.corrupt-*")
    assert str(moved) in caplog.text
    assert Index(index_dir, embedder=fake_embedder).size == 8


# -- 4. wrong ids in a derived file


@pytest.mark.parametrize("damage", ["unknown id", "two ids swapped", "an id twice", "terms ids"])
def test_wrong_ids_in_a_derived_file_are_rebuilt_from_sqlite(
    tiny_corpus, tmp_path, fake_embedder, damage
):
    import faiss

    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=8)
    assert len(expected) == 8
    if damage == "terms ids":
        [path] = index_dir.glob("terms-*.npz")
        with np.load(path) as data:
            arrays = {key: data[key] for key in data.files}
        arrays["ids"] = arrays["ids"][::-1].copy()  # each posting now names another passage
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        [path] = index_dir.glob("vectors-*.faiss")
        saved = faiss.read_index(str(path))
        ids = faiss.vector_to_array(saved.id_map)
        if damage == "unknown id":
            ids[0] = 10_000
        elif damage == "two ids swapped":
            ids[[0, 1]] = ids[[1, 0]]
        else:
            ids[0] = ids[1]
        faiss.copy_array_to_vector(ids, saved.id_map)
        faiss.write_index(saved, str(path))

    index = Index(index_dir, embedder=fake_embedder)
    assert index.search("甲烷回收利用", k=8) == expected
    assert index._reader.repaired


# -- 5. a hand-edited manifest


@pytest.mark.parametrize(
    "key, value",
    [
        ("dim", "abc"),
        ("dim", "0"),
        ("generation", "x"),
        ("generation", "1.5"),
        ("format_version", ""),
        ("model_id", ""),
        ("vector_index", "ivf"),
    ],
)
def test_a_hand_edited_manifest_is_reported_as_corrupt(
    tiny_corpus, tmp_path, fake_embedder, key, value
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    conn = sqlite3.connect(index_dir / "index.sqlite")
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    conn.close()
    with pytest.raises(IndexCorruptError, match=rf"manifest.*{key}.*--rebuild"):
        Index(index_dir, embedder=fake_embedder)
    with pytest.raises(IndexCorruptError, match=rf"manifest.*{key}.*--rebuild"):
        _build(tiny_corpus, index_dir, fake_embedder)  # an incremental build refuses too
    _build(tiny_corpus, index_dir, fake_embedder, rebuild=True)
    assert Index(index_dir, embedder=fake_embedder).size == 8


# -- 6. fuzzed databases


@pytest.fixture
def built_index(tiny_corpus, tmp_path, fake_embedder) -> Path:
    index_dir = tmp_path / "built"
    _build(tiny_corpus, index_dir, fake_embedder)
    assert not (index_dir / "index.sqlite-wal").exists()  # all of it is in the one file
    return index_dir


def _use(index_dir: Path, embedder) -> None:
    index = Index(index_dir, embedder=embedder)
    try:
        for query in ("甲烷回收利用", "碳排放配额清缴", "新能源公交车"):
            for passage in index.search(query, k=5):
                index.following(passage)
            index.search(query, k=3, docs=["market.md"], date_from="2024-01-01")
        index.documents()
        assert index.size >= 0
    finally:
        index.close()


@pytest.mark.parametrize("seed", range(16))
def test_fuzzed_database_gives_only_qa_errors_and_rebuild_recovers(
    built_index, tiny_corpus, tmp_path, fake_embedder, seed
):
    index_dir = tmp_path / f"fuzzed-{seed}"
    shutil.copytree(built_index, index_dir)
    db = index_dir / "index.sqlite"
    data = bytearray(db.read_bytes())
    rng = random.Random(seed)
    start = 0 if seed % 4 == 0 else 100  # mostly past the header, where pages hold the rows
    for _ in range(rng.choice([4, 16, 64])):
        data[rng.randrange(start, len(data))] ^= rng.randrange(1, 256)
    db.write_bytes(bytes(data))

    for _ in range(2):  # a second reader meets the same damage the same way
        with contextlib.suppress(QAError):
            _use(index_dir, fake_embedder)
    with contextlib.suppress(QAError):
        _build(tiny_corpus, index_dir, fake_embedder)
    report = _build(tiny_corpus, index_dir, fake_embedder, rebuild=True)
    assert report.documents == 3
    _use(index_dir, fake_embedder)
    assert Index(index_dir, embedder=fake_embedder).size == 8


# -- 7. the folder replaced or deleted under a running reader or writer


def test_an_index_replaced_under_a_running_reader_is_reopened(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    assert "news.html" in _doc_ids(index.search("新能源公交车", k=8))
    staging = _other_index(tmp_path, fake_embedder)  # also generation 1
    index_dir.rename(tmp_path / "old")
    staging.rename(index_dir)
    assert _doc_ids(index.search("绿氢示范应用", k=8)) == {"hydrogen.md"}
    assert [d["doc_id"] for d in index.documents()] == ["hydrogen.md"]
    assert index.size == 1


def test_an_index_deleted_under_a_running_reader_is_reported_then_found_again(
    tiny_corpus, tmp_path, fake_embedder
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    index.search("甲烷", k=3)
    shutil.rmtree(index_dir)
    with pytest.raises(IndexMissingError, match=rf"{index_dir} was deleted.*index_build.py"):
        index.search("甲烷", k=3)
    with pytest.raises(IndexMissingError, match="was deleted"):
        index.search("甲烷", k=3)  # still, not a stale answer
    _build(tiny_corpus, index_dir, fake_embedder)
    assert "methane.md" in _doc_ids(index.search("甲烷", k=3))


def test_an_index_replaced_by_one_of_another_model_is_refused(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    staging = _other_index(tmp_path, FakeEmbedder(dim=32, model_id="other-model"))
    shutil.rmtree(index_dir)
    staging.rename(index_dir)
    for _ in range(2):  # every time, not once
        with pytest.raises(ModelMismatchError, match="replaced.*other-model.*open it again"):
            index.search("甲烷", k=3)
        assert index._reader.documents()  # the reader kept a working connection


def test_readers_keep_the_previous_file_until_a_new_one_commits(
    tiny_corpus, tmp_path, fake_embedder
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    before = index.search("新能源公交车", k=3)
    assert "news.html" in _doc_ids(before)
    move_aside(index_dir / "index.sqlite", "damaged")  # what --rebuild does with a bad file
    with Writer(index_dir, fake_embedder.model_id, fake_embedder.dim):  # tables, no manifest
        assert index.search("新能源公交车", k=3) == before
        with pytest.raises(IndexMissingError, match="nothing committed yet"):
            Index(index_dir, embedder=fake_embedder)
    (tiny_corpus / "news.html").unlink()
    _build(tiny_corpus, index_dir, fake_embedder)
    assert "news.html" not in _doc_ids(index.search("新能源公交车", k=8))
    assert index.size == 6


@pytest.mark.parametrize("change", ["replaced", "deleted"])
def test_a_writer_never_commits_into_a_folder_that_is_no_longer_its_own(
    tiny_corpus, tmp_path, fake_embedder, change
):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    staging = _other_index(tmp_path, fake_embedder)
    with Writer(index_dir, fake_embedder.model_id, fake_embedder.dim) as writer:
        writer.delete_document("news.html")
        index_dir.rename(tmp_path / "old")
        if change == "replaced":
            staging.rename(index_dir)
        with pytest.raises(IndexWriteError, match=rf"{index_dir} was {change}.*nothing was saved"):
            writer.commit()
    old = Index(tmp_path / "old", embedder=fake_embedder)
    assert "news.html" in {d["doc_id"] for d in old.documents()}  # nothing committed there
    if change == "replaced":
        assert sorted(p.name for p in index_dir.iterdir() if p.suffix != ".lock") == [
            "index.sqlite",
            "terms-000001.npz",
            "vectors-000001.faiss",
        ]
        new = Index(index_dir, embedder=fake_embedder)
        assert [d["doc_id"] for d in new.documents()] == ["hydrogen.md"]
        assert not new._reader.repaired
    else:
        assert not index_dir.exists()


# -- paths that are not plain URIs


def test_an_index_folder_with_uri_characters_in_its_name(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "a#b?c%20d"
    _build(tiny_corpus, index_dir, fake_embedder)
    assert (index_dir / "index.sqlite").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a#b?c%20d", "corpus"]
    assert Index(index_dir, embedder=fake_embedder).size == 8
