"""index_build.py --workers N: passages embedded in worker processes, vectors as in one process."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.embedding import (
    PARALLEL_MIN_TEXTS,
    BatchedEmbedder,
    ParallelEmbedder,
    load_embedder,
    resolve_workers,
)

REPO = Path(__file__).resolve().parent.parent


class BatchSensitiveEmbedder(BatchedEmbedder):
    """Like int8 activations, each vector depends on its batch-mates; it also says who made it.

    Columns: the text's length, the batch's total length, the threads it was given, the pid.
    Spawned workers rebuild it from worker_loader(), so it must live at module level.
    """

    model_id = "batch-sensitive"
    dim = 4
    batch_size = 3

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or 0

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        total = sum(map(len, texts))
        return np.array(
            [[len(t), total, self.threads, os.getpid()] for t in texts], dtype=np.float32
        )

    encode_queries = encode_documents

    def worker_loader(self, threads: int):
        return BatchSensitiveEmbedder, (threads,)


def exit_at_once(*args) -> BatchedEmbedder:
    os._exit(3)  # a worker killed while loading, as by the OOM killer


class DyingEmbedder(BatchSensitiveEmbedder):
    def worker_loader(self, threads: int):
        return exit_at_once, ()


def texts_of_varied_length(count: int) -> list[str]:
    return ["碳" * (1 + (i * 37) % 23) for i in range(count)]


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "index_build.py", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)  # fmt: skip


def test_help_lists_workers():
    result = run_build("--help")
    assert result.returncode == 0
    assert "--workers N" in result.stdout
    assert "embedding processes; default: the number of cores" in " ".join(result.stdout.split())


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_bad_workers_value_is_refused_before_any_work(value, tmp_path):
    index_dir = tmp_path / "index"
    result = run_build("--workers", value, "--index-dir", str(index_dir))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        "index_build.py: error: argument --workers: must be a whole number of processes, "
        f"at least 1, not '{value}'"
    ]
    assert not index_dir.exists()


def test_workers_setting():
    assert resolve_workers(None) == (os.cpu_count() or 1)
    assert resolve_workers(3) == 3
    for bad in (0, -1, True, "2"):
        with pytest.raises(ValueError, match="workers must be a whole number"):
            resolve_workers(bad)
    with pytest.raises(ValueError, match="--workers"):
        load_embedder("unused", workers=0)  # refused before the model is looked up


def test_workers_embed_the_same_batches_as_one_process():
    inner = BatchSensitiveEmbedder()
    texts = texts_of_varied_length(PARALLEL_MIN_TEXTS + 7)
    expected = inner.embed_passages(texts)
    parallel = ParallelEmbedder(inner, workers=2)
    seen = []
    try:
        got = parallel.embed_passages(texts, progress=lambda done, total: seen.append(done))
        children = {p.pid for p in multiprocessing.active_children()}
    finally:
        parallel.close()
    # Same text lengths in the same order, and the same batch-mates for every text.
    np.testing.assert_array_equal(got[:, :2], expected[:, :2])
    assert set(got[:, 3].astype(int)) <= children and os.getpid() not in set(got[:, 3])
    assert set(got[:, 2]) == {max(1, (os.cpu_count() or 1) // 2)}  # each its share of cores
    assert seen == sorted(seen) and seen[-1] == len(texts)
    assert multiprocessing.active_children() == []


def test_a_dead_worker_is_a_clear_error_and_the_pool_is_gone():
    from qa.errors import QAError

    parallel = ParallelEmbedder(DyingEmbedder(), workers=2)
    with pytest.raises(QAError, match=r"worker process died .* --workers 1"):
        parallel.embed_passages(texts_of_varied_length(PARALLEL_MIN_TEXTS))
    assert parallel._pool is None and multiprocessing.active_children() == []


def test_small_calls_and_queries_stay_in_process():
    parallel = ParallelEmbedder(BatchSensitiveEmbedder(), workers=2)
    small = parallel.embed_passages(texts_of_varied_length(PARALLEL_MIN_TEXTS - 1))
    queries = parallel.embed_queries(texts_of_varied_length(PARALLEL_MIN_TEXTS + 1))
    assert set(small[:, 3]) == set(queries[:, 3]) == {os.getpid()}
    assert parallel._pool is None and multiprocessing.active_children() == []


def corpus_passages(count: int) -> list[str]:
    from qa.chunking import chunk_document
    from qa.documents import read_document
    from qa.text import embedding_input

    texts: list[str] = []
    for path in sorted((REPO / "corpus").glob("*.md")):
        if path.name == "SOURCES.md":
            continue
        document = read_document(path, REPO / "corpus")
        texts += [embedding_input(document.title, c.heading, c.text) for c in chunk_document(document)]  # fmt: skip
    return texts[:count]


@pytest.mark.slow
def test_real_model_two_workers_give_the_single_process_vectors(monkeypatch):
    texts = corpus_passages(40)
    assert len(texts) == 40
    single = load_embedder(workers=1)
    assert single is load_embedder()  # workers=1 is the in-process embedder of before
    expected = single.embed_passages(texts)
    parallel = load_embedder(workers=2)
    assert isinstance(parallel, ParallelEmbedder) and parallel.inner is single
    monkeypatch.setattr(parallel, "min_texts", 1)  # 40 passages would otherwise stay in-process
    progress: list[tuple[int, int, int]] = []

    def record(done: int, total: int) -> None:
        progress.append((done, total, len(multiprocessing.active_children())))

    try:
        got = parallel.embed_passages(texts, progress=record)
    finally:
        parallel.close()
    assert np.array_equal(got, expected)  # same batches → bit-identical int8 vectors
    assert progress[-1][:2] == (40, 40) and all(children == 2 for *_, children in progress)
    assert multiprocessing.active_children() == []
