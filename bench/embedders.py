"""The bundled model as int8 ONNX (the default) against fp32 torch: speed, fidelity, quality, memory.

    .venv/bin/python -m bench.embedders

Speed: the real passages (as the index embeds them: title, heading, paragraph) and 150-character
windows, both backends alternating over rounds so that machine load hits both alike; best run.
Quality: an index of corpus/ built with each backend, scored with the
retrieval and answer benchmarks. Memory: a fresh process per backend. Writes
bench/results/embedders.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from bench.build_speed import passage_texts
from bench.retrieval import CORPUS, QUESTIONS, ROOT, hit_rates, save
from bench.scale import rss_mb

WINDOW_CHARS, WINDOWS = 150, 128


def backends() -> dict[str, str]:
    from qa.e5_convert import DEFAULT_MODEL_ID
    from qa.embedding import ONNX_MODEL_ID

    return {"onnx int8 (default)": ONNX_MODEL_ID, "torch fp32": DEFAULT_MODEL_ID}


def windows(texts: list[str]) -> list[str]:
    joined = "".join(text.replace("\n", "") for text in texts)
    return [joined[i : i + WINDOW_CHARS] for i in range(0, len(joined), WINDOW_CHARS)][:WINDOWS]


def speed(embedders: dict, sets: dict[str, list[str]], rounds: int) -> dict:
    best: dict = {}
    for round_number in range(rounds):
        names = list(embedders) if round_number % 2 == 0 else list(embedders)[::-1]
        for name in names:
            for set_name, texts in sets.items():
                start = time.perf_counter()
                embedders[name].embed_passages(texts)
                seconds = time.perf_counter() - start
                key = (name, set_name)
                best[key] = min(seconds, best.get(key, seconds))
    return {name: {set_name: round(len(texts) / best[(name, set_name)], 1)
                   for set_name, texts in sets.items()} for name in embedders}  # fmt: skip


def fidelity(embedders: dict, texts: list[str], queries: list[str]) -> dict:
    onnx, torch = embedders.values()
    result = {}
    for kind, a, b in (
        ("passages", onnx.embed_passages(texts), torch.embed_passages(texts)),
        ("queries", onnx.embed_queries(queries), torch.embed_queries(queries)),
    ):
        cosine = np.sum(a * b, axis=1)
        result[kind] = {
            "mean": round(float(cosine.mean()), 4),
            "min": round(float(cosine.min()), 4),
        }
    return result


def quality(embedder) -> dict:
    from bench.answer import quality as answer_quality
    from qa import Index, build_index

    questions = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    corpora = [CORPUS]
    with tempfile.TemporaryDirectory() as scratch:
        build_index(corpora, Path(scratch), embedder=embedder)
        index = Index(Path(scratch), embedder=embedder)
        result = {mode: hit_rates(index, questions, mode) for mode in ("dense", "hybrid")}
        result["answers"] = answer_quality(index)
        index.close()
    return result


def memory(model_id: str) -> dict:
    """In a fresh process: RSS after loading the embedder and after embedding the corpus."""
    texts = passage_texts()
    before = rss_mb()
    from qa.embedding import load_embedder

    embedder = load_embedder(model_id)
    loaded = rss_mb()
    embedder.embed_passages(texts)
    return {"rss_before_mb": round(before), "rss_loaded_mb": round(loaded),
            "rss_after_embedding_mb": round(rss_mb()), "torch_imported": "torch" in sys.modules}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.memory:
        print(json.dumps(memory(args.memory)))
        return {}
    from qa.embedding import load_embedder

    embedders = {name: load_embedder(model_id) for name, model_id in backends().items()}
    texts = passage_texts()
    queries = [q["q"] for q in yaml.safe_load(QUESTIONS.read_text("utf-8"))]
    for embedder in embedders.values():
        embedder.embed_passages(texts[:32])  # warm-up
    result = {
        "passages_per_second": speed(
            embedders, {"real passages": texts, f"{WINDOW_CHARS}-character windows": windows(texts)},
            args.rounds,
        ),
        "cosine_int8_vs_fp32": fidelity(embedders, texts, queries),
        "quality": {name: quality(embedder) for name, embedder in embedders.items()},
        "memory": {
            name: json.loads(subprocess.run(
                [sys.executable, "-m", "bench.embedders", "--memory", model_id],
                check=True, capture_output=True, text=True, cwd=ROOT,
            ).stdout.strip().splitlines()[-1])
            for name, model_id in backends().items()
        },
    }  # fmt: skip
    return save("embedders", result)


if __name__ == "__main__":
    main()
