"""Speed and scale: build, incremental update, latency, memory and start-up at 1k/10k/100k passages.

    .venv/bin/python -m bench.scale [--sizes 1000 10000 100000]

The corpora are recombined real policy sentences (bench.synthetic). The smallest size is
built with the real model end to end; the larger ones get composed vectors, and their cold
build time is projected as (build time without embedding) + passages / (measured passages/s).
Latency and memory are measured in a fresh process per index. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.retrieval import QUESTIONS, ROOT, percentile, save
from bench.startup import wall_seconds
from bench.synthetic import CACHE, ComposedEmbedder, write_corpus

ANSWER_QUESTIONS = ROOT / "tests" / "data" / "answer_questions.yaml"
REAL_EMBEDDING_UP_TO = 1000  # passages; above this, composed vectors and a projected embed time


def questions() -> list[str]:
    asked = [q["q"] for q in yaml.safe_load(QUESTIONS.read_text("utf-8"))]
    asked += [q["q"] for q in yaml.safe_load(ANSWER_QUESTIONS.read_text("utf-8"))]
    return list(dict.fromkeys(asked))


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def folder_bytes(folder: Path) -> dict[str, int]:
    sizes = {"sqlite": 0, "faiss": 0, "bm25": 0}
    for path in folder.iterdir():
        if path.name.startswith("index.sqlite"):
            sizes["sqlite"] += path.stat().st_size
        elif path.suffix == ".faiss":
            sizes["faiss"] += path.stat().st_size
        elif path.suffix == ".npz":
            sizes["bm25"] += path.stat().st_size
    return sizes


def growth(small: float, large: float, factor: float) -> str:
    """Name how a cost grows from the measured exponent b in cost ∝ size^b."""
    if small <= 0 or large <= 0:
        return "n/a"
    exponent = math.log(large / small) / math.log(factor)
    shape = "flat" if exponent < 0.15 else "sublinear" if exponent < 0.75 else "linear"
    return f"{shape} (×{large / small:.1f} for ×{factor:.0f} passages, exponent {exponent:.2f})"


def measure(index_dir: Path, limit: int) -> dict:
    """Runs in a fresh process: memory after loading, warm retrieve and answer latency."""
    started = time.perf_counter()
    from qa import Index, answer

    baseline = rss_mb()
    index = Index(index_dir)
    loaded_seconds = time.perf_counter() - started
    asked = questions()
    first = time.perf_counter()
    index.search(asked[0], k=5)
    first_query_ms = (time.perf_counter() - first) * 1000
    loaded = rss_mb()
    for question in asked[:5]:
        answer(question, index=index)
    retrieve_ms, answer_ms = [], []
    for question in asked[:limit]:
        start = time.perf_counter()
        index.search(question, k=5)
        retrieve_ms.append((time.perf_counter() - start) * 1000)
    for question in asked[5 : 5 + limit]:
        start = time.perf_counter()
        answer(question, index=index)
        answer_ms.append((time.perf_counter() - start) * 1000)
    return {
        "passages": index.size,
        "load_seconds": round(loaded_seconds, 2),
        "first_query_ms": round(first_query_ms, 1),
        "rss_mb": {"imports": round(baseline), "loaded": round(loaded), "end": round(rss_mb())},
        "retrieve_ms": {"n": len(retrieve_ms), "p50": round(statistics.median(retrieve_ms), 1),
                        "p95": round(percentile(retrieve_ms, 0.95), 1)},
        "answer_ms": {"n": len(answer_ms), "p50": round(statistics.median(answer_ms), 1),
                      "p95": round(percentile(answer_ms, 0.95), 1)},
    }  # fmt: skip


def build_size(size: int, real, measured_rate: float | None) -> dict:
    from qa import build_index

    corpus, extra = CACHE / f"corpus-{size}", CACHE / f"extra-{size}"
    index_dir = CACHE / f"index-{size}"
    for folder in (corpus, extra, index_dir):
        shutil.rmtree(folder, ignore_errors=True)
    documents = write_corpus(corpus, size)
    real_embedding = size <= REAL_EMBEDDING_UP_TO
    embedder = real if real_embedding else ComposedEmbedder(real)
    report = build_index([corpus], index_dir, embedder=embedder, rebuild=True)
    without_embedding = report.seconds - report.embed_seconds
    rate = report.embedded / report.embed_seconds if real_embedding else measured_rate
    cold = {
        "documents": documents,
        "passages": report.passages,
        "real_embedding": real_embedding,
        "seconds_without_embedding": round(without_embedding, 1),
        "embed_passages_per_second": round(rate, 1) if rate else None,
        "seconds": round(without_embedding + report.passages / rate, 1) if rate else None,
    }
    cold["passages_per_second"] = round(report.passages / cold["seconds"], 1)
    if not real_embedding:
        cold["composed_sentences_embedded_now"] = embedder.really_embedded

    write_corpus(extra, 20, seed=size + 1, first_doc=10**6)  # one new article of 20 passages
    update = build_index([corpus, extra], index_dir, embedder=real)
    incremental = {
        "added_passages": update.embedded,
        "seconds": round(update.seconds, 2),
        "embed_seconds": round(update.embed_seconds, 2),
        "passages_per_second": round(update.embedded / update.seconds, 1),
    }
    disk = folder_bytes(index_dir)
    return {"size": size, "cold_build": cold, "incremental_one_article": incremental,
            "disk_bytes": disk, "disk_bytes_per_passage": round(sum(disk.values()) / update.passages),
            "index_dir": str(index_dir)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=100, help="timed queries per size")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.queries)))
        return {}
    from qa.embedding import load_embedder

    real = load_embedder()
    rows, rate = [], None
    for size in sorted(args.sizes):
        print(f"== {size} passages", flush=True)
        row = build_size(size, real, rate)
        rate = rate or row["cold_build"]["embed_passages_per_second"]
        child = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--measure", row["index_dir"],
             "--queries", str(args.queries)],
            check=True, capture_output=True, text=True, cwd=ROOT,
            env=os.environ | {"PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
        row["serving"] = json.loads(child.stdout.strip().splitlines()[-1])
        code = f"from qa import retrieve; retrieve('碳排放权交易', index_dir={row['index_dir']!r})"
        row["first_retrieve_new_process_seconds"] = wall_seconds([sys.executable, "-c", code], 3)[
            "median"
        ]
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    result = {"sizes": rows}
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        factor = large["serving"]["passages"] / small["serving"]["passages"]

        totals = {
            "cold build seconds": lambda r: r["cold_build"]["seconds"],
            "incremental update seconds": lambda r: r["incremental_one_article"]["seconds"],
            "retrieve p50 ms": lambda r: r["serving"]["retrieve_ms"]["p50"],
            "answer p50 ms": lambda r: r["serving"]["answer_ms"]["p50"],
            "RSS after loading MB": lambda r: r["serving"]["rss_mb"]["loaded"],
            "index load seconds": lambda r: r["serving"]["load_seconds"],
            "first retrieve in a new process": lambda r: r["first_retrieve_new_process_seconds"],
            "disk bytes": lambda r: sum(r["disk_bytes"].values()),
        }
        result["growth"] = {name: growth(total(small), total(large), factor)
                            for name, total in totals.items()}  # fmt: skip
        ram = (large["serving"]["rss_mb"]["loaded"] - small["serving"]["rss_mb"]["loaded"]) * 2**20
        result["ram_bytes_per_passage"] = round(
            ram / (large["serving"]["passages"] - small["serving"]["passages"])
        )
    return save("scale", result)


if __name__ == "__main__":
    main()
