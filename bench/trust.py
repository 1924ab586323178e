"""Answer trust on the labelled policy questions (tests/data/policy_questions.yaml), per category
and split: the expected fact, the right document and provision first, declines, verbatim quotes.

    .venv/bin/python -m bench.trust [--index-dir DIR] [--split dev|test|all] [--show-misses]

Thresholds and weights are tuned on the dev split only; tests/test_policy_answers.py asserts
floors on the test split. Writes bench/results/trust.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.retrieval import ROOT, corpus_index, percentile, save

QUESTIONS_FILE = ROOT / "tests" / "data" / "policy_questions.yaml"
FLOORS = {"fact": 0.92, "refused": 0.90, "wrongly_declined": 0.05, "governing": 0.90,
          "verbatim": 1.0}  # fmt: skip


def load_questions() -> list[dict]:
    return yaml.safe_load(QUESTIONS_FILE.read_text("utf-8"))


@dataclass
class Outcome:
    question: dict
    found: bool
    text: str
    first_doc: str | None
    first_place: str
    verbatim: bool
    seconds: float

    @property
    def answerable(self) -> bool:
        return self.question.get("answerable", True)

    @property
    def fact(self) -> bool:
        q = self.question
        return (
            self.found
            and any(e in self.text for e in q.get("expect", []))
            and all(e in self.text for e in q.get("all_of", []))
        )

    @property
    def right_doc(self) -> bool:
        return self.found and self.question.get("doc") in (None, self.first_doc)

    @property
    def right_place(self) -> bool:
        return self.found and self.question.get("locator", "") in self.first_place


def ask(index, question: dict):
    from qa import answer

    history = []
    for earlier in question.get("history", []):
        reply = answer(earlier, index=index, history=history)
        history.append((earlier, reply.text))
    return answer(question["q"], index=index, history=history)


def run(index, questions: list[dict]) -> list[Outcome]:
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        result = ask(index, question)
        seconds = time.perf_counter() - started
        first = result.citations[0].passage if result.citations else None
        place = ""
        if first is not None:
            place = " ".join(
                filter(None, [first.locator.path() if first.locator else "", first.heading,
                              first.text[:40]])
            )  # fmt: skip
        verbatim = all(
            c.passage.text[s:e] in result.text
            or c.passage.text[s:e].rstrip("；;：:，,") in result.text
            for c in result.citations
            for s, e in c.spans
        )
        outcomes.append(Outcome(question, result.found, result.text,
                                first.doc_id if first else None, place, verbatim, seconds))  # fmt: skip
    return outcomes


def rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summarize(outcomes: list[Outcome]) -> dict:
    """Per category and overall: fact, doc and provision first, declines, verbatim."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.question["category"]].append(outcome)
        groups["all"].append(outcome)
    table = {}
    for name, group in sorted(groups.items()):
        answerable = [o for o in group if o.answerable]
        unanswerable = [o for o in group if not o.answerable]
        table[name] = {
            "n": len(group),
            "fact": rate([o.fact for o in answerable]),
            "right_doc": rate([o.right_doc for o in answerable if "doc" in o.question]),
            "right_place": rate([o.right_place for o in answerable if "locator" in o.question]),
            "wrongly_declined": rate([not o.found for o in answerable]),
            "refused": rate([not o.found for o in unanswerable]),
            "verbatim": rate([o.verbatim for o in group]),
        }
    governing = [o for o in outcomes if o.question["category"] == "governing"]
    table["all"]["governing"] = rate([o.right_doc for o in governing])
    return table


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(
        f"{'category':<10} {'n':>4} {'fact':>6} {'doc':>6} {'place':>6} {'miss':>6} {'refuse':>6}"
    )
    for name, row in table.items():
        cells = [
            row[k] for k in ("fact", "right_doc", "right_place", "wrongly_declined", "refused")
        ]
        shown = " ".join(f"{c:>6.3f}" if c is not None else f"{'—':>6}" for c in cells)
        print(f"{name:<10} {row['n']:>4} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    questions = load_questions()
    with tempfile.TemporaryDirectory() as scratch:
        index = corpus_index(args.index_dir, scratch)
        results = {}
        for split in ("dev", "test"):
            if args.split not in (split, "all"):
                continue
            outcomes = run(index, [q for q in questions if q["split"] == split])
            results[split] = summarize(outcomes)
            print_table(f"{split} ({len(outcomes)} questions)", results[split])
            if args.show_misses:
                for o in outcomes:
                    ok = o.fact and o.right_doc and o.right_place if o.answerable else not o.found
                    if not ok:
                        print(f"  MISS {o.question['id']}: {o.question['q']}\n       "
                              f"{o.text[:160]!r} [{o.first_doc} | {o.first_place[:50]}]")  # fmt: skip
            times = [o.seconds * 1000 for o in outcomes]
            results[split]["latency_ms"] = {
                "p50": round(statistics.median(times), 1), "p95": round(percentile(times, 95), 1)
            }  # fmt: skip
        save("trust", results)


if __name__ == "__main__":
    main()
