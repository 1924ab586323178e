"""Answer benchmark on the real corpus: quality on the labelled set, and warm answer() latency.

    .venv/bin/python -m bench.answer [--index-dir DIR]

Quality: the expected fact in answer().text, unanswerable questions declined, quotes verbatim,
against a naive baseline (the first sentence of the top passage). Latency: 100 questions, warm
model, with the sentence-vector cache as it runs in the app and with it emptied before each
question. Writes bench/results/answer.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.retrieval import ROOT, corpus_index, percentile, save

sys.path.insert(0, str(ROOT / "tests"))

from test_answer_quality import QUESTIONS, ask, has_fact


def naive(index, question: dict) -> str:
    top = index.search(question["q"], k=1)
    if not top:
        return ""
    from qa.text import sentence_spans

    start, end = (sentence_spans(top[0].text) or [(0, len(top[0].text))])[0]
    return top[0].text[start:end]


def quality(index) -> dict:
    answerable = [q for q in QUESTIONS if q.get("answerable", True)]
    unanswerable = [q for q in QUESTIONS if not q.get("answerable", True)]
    results = {id(q): ask(index, q) for q in QUESTIONS}
    quotes = [
        (quote, c.passage.text) for r in results.values() for c in r.citations for quote in c.quotes
    ]

    def fact_in(text: str, q: dict) -> bool:
        wanted = q["expect"] if isinstance(q["expect"], list) else [q["expect"]]
        return any(w in text for w in wanted)

    declined = [q for q in QUESTIONS if not results[id(q)].found]
    true_declines = [q for q in declined if not q.get("answerable", True)]
    return {
        "questions": len(QUESTIONS),
        "answer_accuracy": round(sum(has_fact(results[id(q)], q) for q in answerable) / len(answerable), 3),
        "naive_first_sentence_accuracy": round(sum(fact_in(naive(index, q), q) for q in answerable if "history" not in q) / sum("history" not in q for q in answerable), 3),
        "no_answer_precision": round(len(true_declines) / len(declined), 3) if declined else None,
        "no_answer_recall": round(len(true_declines) / len(unanswerable), 3),
        "citation_verbatim_rate": round(sum(q in text for q, text in quotes) / len(quotes), 3),
    }  # fmt: skip


def latency(index, cold_cache: bool) -> dict:
    from qa import answer
    from qa.sentences import clear_vector_cache

    questions = [q["q"] for q in QUESTIONS]
    order = (questions * 2)[:100]
    for question in questions[:5]:
        answer(question, index=index)
    times = []
    for question in order:
        if cold_cache:
            clear_vector_cache()
        start = time.perf_counter()
        answer(question, index=index)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(percentile(times, 0.5), 1), "p95_ms": round(percentile(times, 0.95), 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="an index of corpus/ + the policy corpus")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        index = corpus_index(args.index_dir, scratch)
        report = {
            "quality": quality(index),
            "latency_warm_cache": latency(index, cold_cache=False),
            "latency_cold_sentence_cache": latency(index, cold_cache=True),
        }
    return save("answer", report)


if __name__ == "__main__":
    main()
