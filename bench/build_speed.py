"""What makes builds faster: batch size, sorting by length, and skipping unchanged paragraphs.

    .venv/bin/python -m bench.build_speed

On the real corpus (corpus/), with the default embedder. Each
embedding setting runs twice, interleaved with the others so that machine load hits all
alike; the best run counts. Writes bench/results/build.json.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.retrieval import CORPUS, save

SETTINGS = [(4, True), (8, True), (16, True), (32, True), (64, True), (8, False), (32, False)]


def passage_texts() -> list[str]:
    from qa.chunking import chunk_document
    from qa.documents import iter_corpus_files, read_document
    from qa.text import embedding_input

    texts = []
    for root in [CORPUS]:
        for path in iter_corpus_files(root):
            document = read_document(path, root)
            texts += [embedding_input(document.title, c.heading, c.text) for c in chunk_document(document)]  # fmt: skip
    return texts


def embedding_settings(embedder, texts: list[str], rounds: int = 2) -> list[dict]:
    best: dict[tuple[int, bool], float] = {}
    original = (embedder.batch_size, embedder.sort_by_length)
    try:
        for _ in range(rounds):
            for batch_size, sort in SETTINGS:
                embedder.batch_size, embedder.sort_by_length = batch_size, sort
                start = time.perf_counter()
                embedder.embed_passages(texts)
                seconds = time.perf_counter() - start
                best[(batch_size, sort)] = min(seconds, best.get((batch_size, sort), seconds))
    finally:
        embedder.batch_size, embedder.sort_by_length = original
    return [{"batch_size": b, "sorted_by_length": s, "seconds": round(best[(b, s)], 2),
             "passages_per_second": round(len(texts) / best[(b, s)], 1)} for b, s in SETTINGS]  # fmt: skip


def incremental(embedder) -> dict:
    from qa import build_index

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        shutil.copytree(CORPUS, corpus)
        index_dir = Path(scratch) / "index"
        runs = {"cold": build_index([corpus], index_dir, embedder=embedder)}
        runs["nothing changed"] = build_index([corpus], index_dir, embedder=embedder)
        edited = corpus / "methane-action-plan-2023.md"
        if edited.exists():  # the last paragraph gets one more sentence
            text = edited.read_text("utf-8").rstrip()
            edited.write_text(text + "各地区应当按年度报告进展情况。\n", encoding="utf-8")
            runs["one paragraph edited"] = build_index([corpus], index_dir, embedder=embedder)
        runs["--rebuild (re-embed all)"] = build_index([corpus], index_dir, embedder=embedder, rebuild=True)  # fmt: skip
    return {name: {"passages": r.passages, "embedded": r.embedded, "seconds": round(r.seconds, 3)}
            for name, r in runs.items()}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    from qa.embedding import load_embedder

    embedder = load_embedder()
    texts = passage_texts()
    embedder.embed_passages(texts[:32])  # warm-up
    result = {
        "model": embedder.model_id,
        "backend": type(embedder).__name__,
        "passages": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "embedding": embedding_settings(embedder, texts),
        "builds": incremental(embedder),
    }
    return save("build", result)


if __name__ == "__main__":
    main()
