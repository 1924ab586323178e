"""Benchmark on a public Chinese QA set: a sample of the CMRC 2018 trial set, not written by us.

    .venv/bin/python -m bench.cmrc [--out bench/results/cmrc.json]

Data: bench/data/cmrc2018_trial_sample.json (Cui et al., EMNLP 2019, CC BY-SA 4.0), Wikipedia
paragraphs with span-extraction questions. The contexts, sorted by their numeric id, alternate
between half A (indexed) and half B (held out). Half A's questions measure retrieval (recall@1,
recall@5, MRR@10 per mode) and answers (expected span in answer().text, against the naive first
sentence of the top passage); half B's questions have no answer in the index, so together they
give no-answer precision and recall. Citations: the share of quotes found verbatim in the cited
passage. Each context is one Markdown file in a temporary corpus, built with the default model.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import yaml

from bench.retrieval import RESULTS, ROOT, percentile

DATA = ROOT / "bench" / "data" / "cmrc2018_trial_sample.json"
MODES = ("lexical", "dense", "hybrid")
PREFIX_CHARS = 15  # an answer longer than a passage counts when its start is there
_MARKER = re.compile(r"\[\d+\]")


def normalize(text: str) -> str:
    """Without [n] markers, whitespace and punctuation, as CMRC's own exact match drops them."""
    text = _MARKER.sub("", text)
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "C")))


def load(path: Path = DATA) -> list[dict]:
    contexts = json.loads(path.read_text("utf-8"))["contexts"]
    for context in contexts:
        for qa in context["qas"]:
            missing = [a for a in qa["answers"] if a not in context["context_text"]]
            if missing:
                raise ValueError(f"{qa['query_id']}: answer not in its context: {missing[0]!r}")
    return contexts


def split(contexts: list[dict]) -> tuple[list[dict], list[dict]]:
    """(indexed, held out): alternate contexts in numeric context_id order."""
    ordered = sorted(contexts, key=lambda c: int(c["context_id"].rsplit("_", 1)[1]))
    return ordered[0::2], ordered[1::2]


def doc_id(context: dict) -> str:
    return f"cmrc-{context['context_id']}"


def write_corpus(contexts: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for context in contexts:
        front = yaml.safe_dump(
            {"title": context["title"], "id": doc_id(context)}, allow_unicode=True, sort_keys=False
        )
        text = f"---\n{front}---\n\n{context['context_text']}\n"
        (folder / f"{context['context_id']}.md").write_text(text, encoding="utf-8")


def questions_of(contexts: list[dict]) -> list[dict]:
    return [
        {"q": qa["query_text"], "id": qa["query_id"], "doc": doc_id(c), "answers": qa["answers"]}
        for c in contexts
        for qa in c["qas"]
    ]


def is_relevant(passage, question: dict) -> bool:
    if passage.doc_id != question["doc"]:
        return False
    return any(
        a in passage.text or (len(a) > len(passage.text) and a[:PREFIX_CHARS] in passage.text)
        for a in question["answers"]
    )


def retrieval(index, questions: list[dict], mode: str) -> dict:
    ranks = []
    for question in questions:
        passages = index.search(question["q"], k=10, mode=mode)
        ranks.append(next((i for i, p in enumerate(passages, 1) if is_relevant(p, question)), None))
    n = len(ranks)
    return {
        "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 3),
    }


def reachable(index, question: dict, passages_per_doc: dict[str, int]) -> bool:
    """Some passage of the question's document is relevant (answers cut by a window are not)."""
    k = max(1, passages_per_doc.get(question["doc"], 1))
    return any(
        is_relevant(p, question) for p in index.search(question["q"], k=k, docs=[question["doc"]])
    )


def naive(index, question: str) -> str:
    from qa.text import sentence_spans

    top = index.search(question, k=1)
    if not top:
        return ""
    start, end = (sentence_spans(top[0].text) or [(0, len(top[0].text))])[0]
    return top[0].text[start:end]


def length_bucket(question: dict) -> str:
    size = min(len(a) for a in question["answers"])
    return "short (<=10)" if size <= 10 else "medium (11-30)" if size <= 30 else "long (>30)"


def answers(index, answerable: list[dict], unanswerable: list[dict]) -> dict:
    from qa import answer

    results, times = {}, []
    for question in answerable + unanswerable:
        started = time.perf_counter()
        results[question["id"]] = answer(question["q"], index=index, use_llm=False)
        times.append((time.perf_counter() - started) * 1000)

    def correct(question: dict, normalized: bool = False) -> bool:
        result = results[question["id"]]
        if normalized:
            return result.found and any(
                normalize(a) in normalize(result.text) for a in question["answers"]
            )
        return result.found and any(a in result.text for a in question["answers"])

    by_length: dict[str, list[bool]] = {}
    for question in answerable:
        by_length.setdefault(length_bucket(question), []).append(correct(question))
    declined = [q for q in answerable + unanswerable if not results[q["id"]].found]
    true_declines = [q for q in declined if q in unanswerable]
    quotes = [
        (quote, c.passage.text) for r in results.values() for c in r.citations for quote in c.quotes
    ]
    for question in answerable:
        if not correct(question):
            result = results[question["id"]]
            print(
                f"miss {question['id']} found={result.found} q={question['q']} "
                f"want={question['answers'][0][:40]} got={result.text[:80]!r}",
                file=sys.stderr,
            )
    return {
        "answer_accuracy": round(sum(map(correct, answerable)) / len(answerable), 3),
        "answer_accuracy_normalized": round(
            sum(correct(q, normalized=True) for q in answerable) / len(answerable), 3
        ),
        "accuracy_by_answer_length": {
            bucket: {"questions": len(hits), "accuracy": round(sum(hits) / len(hits), 3)}
            for bucket, hits in sorted(by_length.items())
        },
        "naive_first_sentence_accuracy": round(
            sum(any(a in naive(index, q["q"]) for a in q["answers"]) for q in answerable)
            / len(answerable),
            3,
        ),
        # Characters of the found answers, markers left out: a longer answer hits more spans.
        "mean_answer_chars": round(
            statistics.mean(
                len(re.sub(r"\[\d+\]", "", results[q["id"]].text))
                for q in answerable
                if results[q["id"]].found
            ),
            1,
        ),
        "answerable_found": round(
            sum(results[q["id"]].found for q in answerable) / len(answerable), 3
        ),
        "no_answer_precision": round(len(true_declines) / len(declined), 3) if declined else None,
        "no_answer_recall": round(len(true_declines) / len(unanswerable), 3),
        "citation_verbatim_rate": round(sum(q in t for q, t in quotes) / len(quotes), 3)
        if quotes
        else None,
        "answer_ms": {
            "p50": round(percentile(times, 0.5), 1),
            "p95": round(percentile(times, 0.95), 1),
        },
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "cmrc.json", help="result file (default %(default)s)"
    )
    args = parser.parse_args(argv)
    from qa import Index, build_index
    from qa.embedding import load_embedder

    contexts = load()
    indexed, held_out = split(contexts)
    answerable, unanswerable = questions_of(indexed), questions_of(held_out)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cmrc-") as scratch:
        corpus_dir, index_dir = Path(scratch) / "corpus", Path(scratch) / "index"
        write_corpus(indexed, corpus_dir)
        embedder = load_embedder()
        report = build_index([corpus_dir], index_dir, embedder=embedder)
        index = Index(index_dir, embedder=embedder)
        passages_per_doc = {d["doc_id"]: d["passages"] for d in index.documents()}
        result = {
            "dataset": "CMRC 2018 trial sample (bench/data/cmrc2018_trial_sample.json)",
            "contexts": len(contexts),
            "indexed_contexts": len(indexed),
            "held_out_contexts": len(held_out),
            "documents": report.documents,
            "passages": report.passages,
            "answerable_questions": len(answerable),
            "unanswerable_questions": len(unanswerable),
            "answer_reachable": round(
                sum(reachable(index, q, passages_per_doc) for q in answerable) / len(answerable), 3
            ),
            "retrieval": {mode: retrieval(index, answerable, mode) for mode in MODES},
            "answers": answers(index, answerable, unanswerable),
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
