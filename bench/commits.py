"""Commit cost: adding one 20-passage article, with segments and with a full rewrite.

    .venv/bin/python -m bench.commits [--sizes 1000 10000 100000]

For each size a synthetic index is built (bench.synthetic: real policy sentences, composed
vectors), then one new article is added three times with every commit rewriting the base
(QA_INDEX_SEGMENTS=off, as before segments) and three times with segments; the medians are
reported. At the largest size, retrieve latency (query embedding included, as bench.scale) is
measured on the merged index and again with 10 unmerged segments. Writes
bench/results/commits.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from bench.retrieval import percentile, save
from bench.scale import questions
from bench.synthetic import CACHE, ComposedEmbedder, write_corpus

REPEATS = 3


def add_article(corpus: Path, index_dir: Path, extra: Path, number: int, embedder,
                segments: bool) -> dict:  # fmt: skip
    from qa import build_index

    write_corpus(extra, 20, seed=number, first_doc=10**6 + number)
    os.environ["QA_INDEX_SEGMENTS"] = "on" if segments else "off"
    try:
        report = build_index([corpus, extra], index_dir, embedder=embedder)
    finally:
        os.environ.pop("QA_INDEX_SEGMENTS", None)
    return {"seconds": report.seconds, "embed_seconds": report.embed_seconds}


def retrieve_ms(index_dir: Path, embedder, limit: int) -> dict:
    from qa import Index

    index = Index(index_dir, embedder=embedder)
    asked = questions()
    for question in asked[:5]:  # warm-up (and the reload of the new generation)
        index.search(question, k=5)
    timings = []
    for question in asked[:limit]:
        start = time.perf_counter()
        index.search(question, k=5)
        timings.append((time.perf_counter() - start) * 1000)
    segments = len(index._reader.faiss_index.parts) - 1
    index.close()
    return {"segments": segments, "n": len(timings),
            "p50": round(statistics.median(timings), 1),
            "p95": round(percentile(timings, 0.95), 1)}  # fmt: skip


def run_size(size: int, embedder, queries: int, measure_retrieve: bool) -> dict:
    from qa import build_index
    from qa.writer import merge_index

    corpus, extra = CACHE / f"corpus-{size}", CACHE / f"commits-extra-{size}"
    index_dir = CACHE / f"commits-index-{size}"
    for folder in (extra, index_dir):
        shutil.rmtree(folder, ignore_errors=True)
    if not corpus.exists():
        write_corpus(corpus, size)
    started = time.perf_counter()
    cold = build_index([corpus], index_dir, embedder=embedder, rebuild=True)
    print(f"  built {cold.passages} passages in {time.perf_counter() - started:.0f} s", flush=True)
    row: dict = {"size": size, "passages": cold.passages}
    number = 0
    for mode, segments in (("full_rewrite", False), ("segments", True)):
        runs = []
        for _ in range(REPEATS):
            number += 1
            runs.append(add_article(corpus, index_dir, extra, number, embedder, segments))
        row[mode] = {
            "add_seconds_median": round(statistics.median(r["seconds"] for r in runs), 3),
            "embed_seconds_median": round(statistics.median(r["embed_seconds"] for r in runs), 3),
            "runs": [round(r["seconds"], 3) for r in runs],
        }
        print(f"  {mode}: {row[mode]}", flush=True)
    if measure_retrieve:
        merge_index(index_dir)
        row["retrieve_merged_ms"] = retrieve_ms(index_dir, embedder, queries)
        for _ in range(10):
            number += 1
            add_article(corpus, index_dir, extra, number, embedder, True)
        row["retrieve_10_segments_ms"] = retrieve_ms(index_dir, embedder, queries)
        print(f"  retrieve: {row['retrieve_merged_ms']} {row['retrieve_10_segments_ms']}")
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=100, help="timed queries")
    args = parser.parse_args(argv)
    from qa.embedding import load_embedder

    embedder = ComposedEmbedder(load_embedder())
    sizes = sorted(args.sizes)
    rows = []
    load_before = os.getloadavg()[0]
    for size in sizes:
        print(f"== {size} passages", flush=True)
        rows.append(run_size(size, embedder, args.queries, size == sizes[-1]))
    # Other jobs on a shared machine stretch every timing here; the load says how busy it was.
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return save("commits", {"sizes": rows, "load_average_before_after": load})


if __name__ == "__main__":
    main()
