"""A build reads only the corpus files that changed (qa.file_stats), and still sees every edit."""

from __future__ import annotations

import builtins
import io
import os
import time
from pathlib import Path

import pytest

import qa.file_stats
from qa import build_index
from qa.documents import iter_corpus_files
from qa.file_stats import corpus_files
from qa.store import DB_NAME, connect, read_meta

OLD_NS = (int(time.time()) - 3600) * 1_000_000_000  # long before any build: not racy


def write_doc(corpus: Path, number: int, version: str = "甲") -> Path:
    path = corpus / f"doc{number}.md"
    path.write_text(
        f"---\ntitle: 政策文件{number}号\ndate: 2024-01-0{number + 1}\n---\n\n"
        f"各地区要加强碳排放权交易管理，第{number}号文件第一段（版本{version}）。\n\n"
        f"甲烷排放控制与温室气体核查，第{number}号文件第二段。\n",
        encoding="utf-8",
    )
    return path


def age(*paths: Path, ns: int = OLD_NS) -> None:
    for path in paths:
        os.utime(path, ns=(ns, ns))


def query(index_dir: Path, sql: str) -> list:
    conn = connect(index_dir / DB_NAME, readonly=True)
    try:
        return [tuple(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def generation(index_dir: Path) -> str:
    conn = connect(index_dir / DB_NAME, readonly=True)
    try:
        return read_meta(conn)["generation"]
    finally:
        conn.close()


def texts(index_dir: Path) -> str:
    return "\n".join(text for (text,) in query(index_dir, "SELECT text FROM passages"))


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


def record_opens(monkeypatch) -> list[str]:
    """The real paths opened from now on, through open(), io.open() (pathlib) or os.open()."""
    paths: list[str] = []

    def recording(real):
        def wrapper(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)):
                paths.append(os.path.realpath(os.fspath(file)))
            return real(file, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(builtins, "open", recording(builtins.open))
    monkeypatch.setattr(io, "open", recording(io.open))
    monkeypatch.setattr(os, "open", recording(os.open))
    return paths


def test_an_unchanged_file_is_not_read_again(corpus, tmp_path, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    docs = [write_doc(corpus, n) for n in range(3)]
    build_index([corpus], index_dir, embedder=fake_embedder)  # fresh files: all racy
    first = generation(index_dir)
    age(*docs)
    report = build_index([corpus], index_dir, embedder=fake_embedder)
    assert report.unchanged == 3
    # Nothing changed: the signatures were saved without a new generation.
    assert generation(index_dir) == first
    assert len(query(index_dir, "SELECT path FROM file_stats")) == 3

    new = write_doc(corpus, 3)
    with monkeypatch.context() as patch:
        opened = record_opens(patch)
        report = build_index([corpus], index_dir, embedder=fake_embedder)
    assert (report.added, report.unchanged) == (1, 3)
    assert {p for p in opened if Path(p).parent == corpus.resolve()} == {str(new.resolve())}
    assert "第3号文件" in texts(index_dir)


@pytest.mark.parametrize("mtime", ["new", "put back"])
def test_an_edit_of_the_same_size_is_reindexed(corpus, tmp_path, fake_embedder, mtime):
    index_dir = tmp_path / "index"
    path = write_doc(corpus, 0, "甲")
    age(path)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert query(index_dir, "SELECT count(*) FROM file_stats") == [(1,)]
    size = path.stat().st_size
    write_doc(corpus, 0, "乙")  # three bytes for three bytes
    assert path.stat().st_size == size
    # `touch -r` or `rsync -t` put the old mtime back; only the ctime tells.
    age(path, ns=OLD_NS + 10**10 if mtime == "new" else OLD_NS)
    report = build_index([corpus], index_dir, embedder=fake_embedder)
    assert report.updated == 1
    assert "版本乙" in texts(index_dir) and "版本甲" not in texts(index_dir)


def test_a_racy_edit_in_the_same_timestamp_tick_is_caught(
    corpus, tmp_path, fake_embedder, monkeypatch
):
    """On a file system with 1-second timestamps an edit right after the build can leave the
    whole signature as it was; such a file must be hashed again at the next build."""
    real_stamp, tick = qa.file_stats._stamp, []

    def coarse(path):
        stamp = real_stamp(path)
        if stamp is None:
            return None
        # Every change lands in the tick of the first look, which is inside the first build.
        tick.append(tick[0] if tick else time.time_ns() // 10**9 * 10**9)
        return (*stamp[:3], tick[0], tick[0])

    monkeypatch.setattr(qa.file_stats, "_stamp", coarse)
    index_dir = tmp_path / "index"
    path = write_doc(corpus, 0, "甲")
    build_index([corpus], index_dir, embedder=fake_embedder)
    before = coarse(path)
    write_doc(corpus, 0, "乙")
    assert coarse(path) == before  # the edit left no trace in the signature
    report = build_index([corpus], index_dir, embedder=fake_embedder)
    assert report.updated == 1
    assert "版本乙" in texts(index_dir) and "版本甲" not in texts(index_dir)


def test_a_sidecar_edit_is_caught_and_a_removed_file_forgotten(corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    kept, removed = write_doc(corpus, 0), write_doc(corpus, 1)
    sidecar = corpus / "doc0.md.meta.yaml"
    sidecar.write_text("title: 旧标题\n", encoding="utf-8")
    age(kept, removed, sidecar)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert len(query(index_dir, "SELECT path FROM file_stats")) == 2

    sidecar.write_text("title: 新标题\n", encoding="utf-8")
    age(sidecar, ns=OLD_NS + 10**10)
    removed.unlink()
    report = build_index([corpus], index_dir, embedder=fake_embedder)
    assert (report.updated, report.removed) == (1, 1)
    assert query(index_dir, "SELECT title FROM documents") == [("新标题",)]
    assert query(index_dir, "SELECT path FROM file_stats") == [(str(kept.resolve()),)]


def test_the_folder_walk_lists_what_iter_corpus_files_does(tmp_path):
    root = tmp_path / "corpus"
    for name in ["b.md", "a-b.txt", "A.MD", "README.md", "sources.txt", "notes.json", "x.",
                 "a/z.html", "a/b/c.docx", "a.md/inner.md", ".hidden/d.md", "a/.e.md",
                 "中文/政策.pdf"]:  # fmt: skip
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("正文", encoding="utf-8")
    expected = [p.resolve() for p in iter_corpus_files(root)]
    assert len(expected) == 7
    assert corpus_files(root) == expected

    # A link (in or out of the folder) leaves the checks and warnings to iter_corpus_files.
    outside = tmp_path / "outside.md"
    outside.write_text("外部", encoding="utf-8")
    (root / "a" / "link-out.md").symlink_to(outside)
    (root / "link-in.md").symlink_to(root / "b.md")
    expected = [p.resolve() for p in iter_corpus_files(root)]
    assert str(outside) not in map(str, expected) and len(expected) == 8
    assert corpus_files(root) == expected
