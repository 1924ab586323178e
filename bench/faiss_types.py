"""FAISS flat against HNSW and IVF on the largest scale index: recall against flat, latency, size.

    .venv/bin/python -m bench.faiss_types [--index-dir ~/.cache/policy-qa/bench/index-100000]

Queries are the real-model vectors of the labelled questions; recall@50 is measured because
the hybrid search takes the dense top 50 before fusion. Writes bench/results/faiss.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.retrieval import percentile, save
from bench.scale import questions
from bench.synthetic import CACHE

CANDIDATES = 50


def timed_search(index, queries: np.ndarray, n: int) -> tuple[np.ndarray, list[float]]:
    """One query at a time, as the app searches."""
    found, times = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), n)
        times.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
    return np.array(found), times


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def serialized_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).size)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=CACHE / "index-100000")
    args = parser.parse_args(argv)
    import faiss

    from qa.embedding import load_embedder
    from qa.store import DB_NAME, connect, load_all_vectors, read_meta

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    conn = connect(args.index_dir / DB_NAME, readonly=True)
    dim = int(read_meta(conn)["dim"])
    _, matrix = load_all_vectors(conn, dim)
    matrix = np.ascontiguousarray(matrix)
    queries = load_embedder().embed_queries(questions())
    flat = faiss.IndexFlatIP(dim)
    flat.add(matrix)
    truth, flat_times = timed_search(flat, queries, CANDIDATES)

    def row(kind: str, build_seconds: float, index, times, found) -> dict:
        return {"kind": kind, "build_seconds": round(build_seconds, 2),
                "bytes_per_passage": round(serialized_bytes(index) / len(matrix)),
                "recall@50_vs_flat": round(recall(found, truth), 4),
                "recall@10_vs_flat": round(recall(found[:, :10], truth[:, :10]), 4),
                "search_ms_p50": round(statistics.median(times), 3),
                "search_ms_p95": round(percentile(times, 0.95), 3)}  # fmt: skip

    rows = [row("flat", 0.0, flat, flat_times, truth)]
    for m in (16, 32):
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(matrix)
        built = time.perf_counter() - start
        for ef in (64, 128, 256):
            hnsw.hnsw.efSearch = ef
            found, times = timed_search(hnsw, queries, CANDIDATES)
            rows.append(row(f"hnsw M={m} efSearch={ef}", built, hnsw, times, found))
    nlist = int(4 * np.sqrt(len(matrix)))
    start = time.perf_counter()
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(matrix)
    ivf.add(matrix)
    built = time.perf_counter() - start
    for nprobe in (8, 16, 32, 64):
        ivf.nprobe = nprobe
        found, times = timed_search(ivf, queries, CANDIDATES)
        rows.append(row(f"ivf nlist={nlist} nprobe={nprobe}", built, ivf, times, found))
    result = {"passages": len(matrix), "dim": dim, "queries": len(queries), "rows": rows}
    return save("faiss", result)


if __name__ == "__main__":
    main()
