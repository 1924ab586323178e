"""Retrieval benchmark on the real corpus: build speed, hit@k per mode, warm latency.

    .venv/bin/python -m bench.retrieval [--index-dir DIR] [--queries N]

Writes bench/results/retrieval.json. Timings are wall-clock on this machine; run it with
nothing else busy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "retrieval_questions.yaml"
CORPUS = ROOT / "corpus"  # the seed plus the eight official texts
RESULTS = ROOT / "bench" / "results"


def is_answer(passage, question: dict) -> bool:
    wanted = question["contains"]
    alternatives = wanted if isinstance(wanted, list) else [wanted]
    return passage.doc_id == question["doc"] and any(a in passage.text for a in alternatives)


def hit_rates(index, questions: list[dict], mode: str) -> dict:
    ranks = []
    for question in questions:
        passages = index.search(question["q"], k=10, mode=mode)
        ranks.append(next((i for i, p in enumerate(passages, 1) if is_answer(p, question)), None))
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
        "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 3),
        "mrr@10": round(sum(1 / r for r in ranks if r) / len(ranks), 3),
    }


def save(name: str, result: dict) -> dict:
    """Write bench/results/<name>.json and print it."""
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(text, encoding="utf-8")
    print(text, end="")
    return result


def corpus_index(index_dir: Path | None, scratch: str):
    """An Index of corpus/: the one at `index_dir`, else one built now in `scratch`."""
    from qa import Index, build_index

    if index_dir is None:
        index_dir = Path(scratch) / "index"
        build_index([CORPUS], index_dir)
    return Index(index_dir)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, help="reuse this index folder (default: a fresh temp one)"
    )
    parser.add_argument("--queries", type=int, default=100, help="timed queries (default 100)")
    args = parser.parse_args(argv)
    from qa import Index, build_index
    from qa.embedding import load_embedder

    corpora = [CORPUS]
    embedder = load_embedder()
    index_dir = args.index_dir or Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    report = build_index(corpora, index_dir, embedder=embedder, rebuild=args.index_dir is None)
    questions = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    index = Index(index_dir, embedder=embedder)
    index.search("预热", k=5)
    quality = {mode: hit_rates(index, questions, mode) for mode in ("lexical", "dense", "hybrid")}
    latencies = []
    for i in range(args.queries):
        started = time.perf_counter()
        index.search(
            questions[i % len(questions)]["q"] + ("" if i < len(questions) else f" {i}"), k=5
        )
        latencies.append((time.perf_counter() - started) * 1000)
    result = {
        "documents": report.documents,
        "passages": report.passages,
        "build": {
            "embedded": report.embedded,
            "embed_seconds": round(report.embed_seconds, 2),
            "total_seconds": round(report.seconds, 2),
            "passages_per_second": round(report.embedded / report.embed_seconds, 1)
            if report.embedded
            else None,
        },
        "questions": len(questions),
        "quality": quality,
        "retrieve_ms": {
            "queries": args.queries,
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
        },
    }
    return save("retrieval", result)


if __name__ == "__main__":
    main()
