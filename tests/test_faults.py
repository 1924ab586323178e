"""Faults: a killed or failing build leaves the last complete index serving."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa import Index, build_index
from qa.errors import IndexWriteError
from qa.faults import POINTS
from qa.writer import Writer

TESTS = Path(__file__).resolve().parent

BUILD_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from fakes import FakeEmbedder
    from qa import build_index
    report = build_index([{corpus!r}], {index!r}, embedder=FakeEmbedder())
    print(report.summary())
    """
)


def build_in_subprocess(corpus: Path, index_dir: Path, kill_at: str | None = None):
    script = BUILD_SCRIPT.format(tests=str(TESTS), corpus=str(corpus), index=str(index_dir))
    env = {**os.environ, "QA_FAULT_KILL_AT": kill_at or ""}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


def doc_ids(index_dir: Path, embedder) -> set[str]:
    return {d["doc_id"] for d in Index(index_dir, embedder=embedder).documents()}


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_stage_keeps_the_last_complete_index(
    tiny_corpus, tmp_path, fake_embedder, point
):
    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    before = Index(index_dir, embedder=fake_embedder).search("新能源公交车", k=3)
    (tiny_corpus / "news.html").unlink()
    (tiny_corpus / "extra.md").write_text(
        "# 氢能\n\n氢能产业发展规划提出加快绿氢示范应用。\n", encoding="utf-8"
    )

    killed = build_in_subprocess(tiny_corpus, index_dir, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    assert doc_ids(index_dir, fake_embedder) == {"methane.md", "market.md", "news.html"}
    assert Index(index_dir, embedder=fake_embedder).search("新能源公交车", k=3) == before
    assert not Index(index_dir, embedder=fake_embedder)._reader.repaired

    finished = build_in_subprocess(tiny_corpus, index_dir)
    assert finished.returncode == 0, finished.stderr
    assert "1 added" in finished.stdout and "1 removed" in finished.stdout
    assert doc_ids(index_dir, fake_embedder) == {"methane.md", "market.md", "extra.md"}
    assert len(list(index_dir.glob("vectors-*"))) == 1  # leftovers of the killed run are gone


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("write failed")]
)
def test_full_disk_during_save_reports_and_keeps_old_index(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch, failure
):
    import faiss

    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    (tiny_corpus / "market.md").unlink()

    def full_disk(index, path):
        Path(path).write_bytes(b"partial")
        raise failure

    monkeypatch.setattr(faiss, "write_index", full_disk)
    with pytest.raises(IndexWriteError, match="previous index is intact.*free some disk space"):
        build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    monkeypatch.undo()
    assert "market.md" in doc_ids(index_dir, fake_embedder)
    assert [p.name for p in index_dir.glob("vectors-*")] == ["vectors-000001.faiss"]


def test_queries_during_a_build_see_the_old_snapshot_then_the_new(
    tiny_corpus, tmp_path, fake_embedder
):
    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    with Writer(index_dir, fake_embedder.model_id, fake_embedder.dim) as writer:
        writer.delete_document("news.html")
        assert "news.html" in {p.doc_id for p in index.search("新能源公交车", k=8)}
        writer.commit()
    assert "news.html" not in {p.doc_id for p in index.search("新能源公交车", k=8)}
    assert index.size == 6


def test_two_cli_builds_at_once_one_fails_fast_and_result_is_complete(
    tiny_corpus, tmp_path, fake_embedder
):
    index_dir = tmp_path / "index"
    with Writer(index_dir, fake_embedder.model_id, fake_embedder.dim):
        second = build_in_subprocess(tiny_corpus, index_dir)
    assert second.returncode != 0 and "another build is writing" in second.stderr
    first = build_in_subprocess(tiny_corpus, index_dir)
    assert first.returncode == 0 and first.stdout.startswith("3 documents (3 added")
    assert Index(index_dir, embedder=fake_embedder).size == 8
