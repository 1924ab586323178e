"""Fit the answer-or-decline decision of qa/evidence.py (WEIGHTS, BIAS) on the dev split only.

    .venv/bin/python -m bench.answerability [--index-dir DIR] [--cmrc-weight W] [--cache FILE]

Every dev question of tests/data/policy_questions.yaml is answered with the decision switched
off, and the features of each candidate answer are recorded (qa.evidence.FEATURE_LOG); questions
that never reach the decision (exact article and section look-ups, hard rules) keep their
outcome. Labels: answerable or not. The CMRC 2018 sample's questions (bench/cmrc.py: indexed half
answerable, held-out half not) are extra training rows, each weighing `--cmrc-weight` (default
1.0) of a dev row; they are never scored. Their negatives are off-topic, unlike dev's near-misses:
without them the dense cosine gets almost no weight and bench.cmrc loses answers.

The model is an L2-regularised logistic regression over standardised features, classes weighted
to equal total weight, fitted with Newton's method in numpy. The regularisation is picked by
cross-validation that leaves out one blind-written batch at a time (the questions of no batch
are one more group): the most regularised λ whose balanced error of the decisions is within one
standard error of the lowest. Leaving out one question at a time overstated what new wording
gets, since a question's batch-mates share its wording and the rules were written with them in
view; it favoured strong regularisation that refused less on the test split. `by_batch` gives
each batch's dev questions as decided in that cross-validation, by a model fitted without them.
The final model is fitted on all rows and printed in raw feature units, ready to paste into
qa/evidence.py.
Writes bench/results/answerability.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from bench.retrieval import RESULTS, corpus_index, save
from bench.trust import load_questions

LAMBDAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def _collect(index, question: str, history: list[str]) -> tuple[dict | None, object]:
    """(features of the final question's decision, or None when it made none; its answer)."""
    from qa import answer, evidence

    turns: list[tuple[str, str]] = []
    for earlier in history:
        turns.append((earlier, answer(earlier, index=index, history=turns).text))
    log: list[dict] = []
    token = evidence.FEATURE_LOG.set(log)
    try:
        result = answer(question, index=index, history=turns, use_llm=False)
    finally:
        evidence.FEATURE_LOG.reset(token)
    return (log[-1] if log else None), result


def _always_answer():
    """The decision switched off, so that every candidate answer is produced and recorded."""
    from qa import evidence

    saved = evidence.BIAS
    evidence.BIAS = 1e9
    return lambda: setattr(evidence, "BIAS", saved)


def out_of_fold_reads() -> dict[str, float]:
    """Dev questions' reader scores from the reader trained without them (bench/reader.py), on
    the shipped readers' scale and clamped as served; empty when there are none."""
    from qa.evidence import READER_BOUNDS
    from qa.reader import weights_metadata

    path = RESULTS / "reader_oof.json"
    if not path.exists():
        return {}
    centre = float(weights_metadata().get("centre", 0.0))
    low, high = READER_BOUNDS
    scores = json.loads(path.read_text("utf-8"))["scores"]
    return {k: min(high, max(low, v - centre)) for k, v in scores.items()}


def dev_rows(index) -> list[dict]:
    """Each dev question's decision features (the reader's read out of fold where known), its
    label, and the quotes the answer would give."""
    restore = _always_answer()
    reads = out_of_fold_reads()
    rows = []
    try:
        for q in load_questions():
            if q["split"] != "dev":
                continue
            features, result = _collect(index, q["q"], q.get("history", []))
            if features is not None and q["id"] in reads:
                features["reader"] = reads[q["id"]]
            expect, all_of = q.get("expect", []), q.get("all_of", [])
            fact = any(e in result.text for e in expect) and all(e in result.text for e in all_of)
            rows.append({"id": q["id"], "q": q["q"], "batch": q.get("batch"),
                         "answerable": q.get("answerable", True), "expect": expect,
                         "features": features, "found": result.found,
                         "fact": bool(result.found and fact),
                         "quotes": [" ".join(c.quotes) for c in result.citations],
                         "passages": [c.passage.text for c in result.citations]})  # fmt: skip
    finally:
        restore()
    return rows


def cmrc_rows() -> list[dict]:
    from bench import cmrc
    from qa import Index, build_index
    from qa.embedding import load_embedder

    indexed, held_out = cmrc.split(cmrc.load())
    labelled = [(q, True) for q in cmrc.questions_of(indexed)]
    labelled += [(q, False) for q in cmrc.questions_of(held_out)]
    restore = _always_answer()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="answerability-cmrc-") as scratch:
            embedder = load_embedder()
            cmrc.write_corpus(indexed, Path(scratch) / "corpus")
            build_index([Path(scratch) / "corpus"], Path(scratch) / "index", embedder=embedder)
            index = Index(Path(scratch) / "index", embedder=embedder)
            for q, answerable in labelled:
                features, _ = _collect(index, q["q"], [])
                rows.append({"id": q["id"], "answerable": answerable, "features": features})
    finally:
        restore()
    return rows


def fit(x: np.ndarray, y: np.ndarray, lam: float, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of a class-balanced, L2-penalised logistic regression (Newton steps);
    `rows` weighs each row."""
    n, f = x.shape
    w = rows * np.where(y == 1, n / (2 * max(y.sum(), 1)), n / (2 * max(n - y.sum(), 1)))
    a = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(f + 1)
    penalty = np.diag([lam] * f + [0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (w * (p - y)) + penalty @ beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + penalty + 1e-9 * np.eye(f + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:f], float(beta[f])


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(std > 1e-9, std, 1.0)


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, lam: float,
                   rows: np.ndarray) -> np.ndarray:  # fmt: skip
    """Probabilities of the scored rows (groups >= 0, the dev questions), each group's from a
    model fitted without it; unscored rows (group -1, the CMRC ones) are always fitted on."""
    probs = np.full(len(y), np.nan)
    for group in np.unique(groups[groups >= 0]):
        keep = groups != group
        mean, std = standardise(x[keep])
        w, b = fit((x[keep] - mean) / std, y[keep], lam, rows[keep])
        held = ~keep
        probs[held] = 1 / (1 + np.exp(-(((x[held] - mean) / std) @ w + b)))
    return probs


def rates(rows: list[dict], answer: list[bool]) -> dict:
    """Dev rates as bench.trust counts them, with `answer` deciding the rows that reach it."""
    found = [a if r["features"] is not None else r["found"] for r, a in zip(rows, answer)]
    pos = [(r, f) for r, f in zip(rows, found) if r["answerable"]]
    neg = [f for r, f in zip(rows, found) if not r["answerable"]]
    return {
        "fact": round(sum(f and r["fact"] for r, f in pos) / len(pos), 3),
        "wrongly_declined": round(sum(not f for _, f in pos) / len(pos), 3),
        "refused": round(sum(not f for f in neg) / len(neg), 3),
    }


def by_batch(dev: list[dict], answer: dict[str, bool], batch_of: dict[str, int]) -> dict:
    """Each blind-written batch's dev rates, `answer` deciding the rows that reach the decision."""
    report = {}
    for batch in sorted(set(batch_of.values())):
        held = [r for r in dev if batch_of.get(r["id"]) == batch]
        if held:
            decide = [answer.get(r["id"], False) for r in held]
            report[str(batch)] = {"questions": len(held), **rates(held, decide)}
    return report


def error_rates(probs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Answerable questions declined, and unanswerable ones answered, at p = 0.5."""
    return float(np.mean(probs[truth == 1] < 0.5)), float(np.mean(probs[truth == 0] >= 0.5))


def one_standard_error(trials: dict, truth: np.ndarray) -> float:
    """The most regularised λ whose cross-validated balanced error exceeds the lowest by at most
    one standard error of that difference, taken question by question (the λs decide the same
    questions, so their errors are paired). Balanced errors of λ 0.01–10 have differed by a
    question or two, and the lowest moved with batches added; the rule keeps the simpler model
    unless a smaller λ is clearly better. (A standard error of the lowest error itself, not of
    the difference, let λ 30 through while it refused 2 % fewer of the held-out batches.)"""
    positive, negative = truth == 1, truth == 0

    def errors(lam: float) -> np.ndarray:
        probs = trials[lam][2]
        return np.where(positive, probs < 0.5, probs >= 0.5).astype(float)

    def balanced(values: np.ndarray) -> float:
        return 0.5 * (values[positive].mean() + values[negative].mean())

    lowest = min(LAMBDAS, key=lambda lam: (balanced(errors(lam)), trials[lam][1]))
    chosen = lowest
    for lam in LAMBDAS:
        excess = errors(lam) - errors(lowest)
        error = 0.5 * np.sqrt(excess[positive].var() / positive.sum()
                              + excess[negative].var() / negative.sum())  # fmt: skip
        if balanced(excess) <= error:
            chosen = max(chosen, lam)
    return chosen


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="an index of corpus/ (default: build one)")
    parser.add_argument("--cmrc-weight", type=float, default=1.0, help="0 leaves CMRC out")
    parser.add_argument("--cache", type=Path, help="reuse (or write) the extracted features")
    args = parser.parse_args(argv)
    from qa.evidence import FEATURES

    if args.cache and args.cache.exists():
        cached = json.loads(args.cache.read_text("utf-8"))
        dev, extra = cached["dev"], cached["cmrc"]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            dev = dev_rows(corpus_index(args.index_dir, scratch))
        extra = cmrc_rows() if args.cmrc_weight > 0 else []
        if args.cache:
            args.cache.write_text(json.dumps({"dev": dev, "cmrc": extra}), "utf-8")
    if args.cmrc_weight <= 0:
        extra = []
    batch_of = {q["id"]: q["batch"] for q in load_questions() if "batch" in q}
    decided = [r for r in dev if r["features"] is not None]
    train = decided + [r for r in extra if r["features"] is not None]
    x = np.array([[r["features"][name] for name in FEATURES] for r in train])
    y = np.array([float(r["answerable"]) for r in train])
    groups = np.array(
        [batch_of.get(r["id"], 0) for r in decided] + [-1] * (len(train) - len(decided))
    )
    scored = groups >= 0
    rows = np.where(scored, 1.0, args.cmrc_weight)
    trials = {}
    for lam in LAMBDAS:
        probs = cross_validate(x, y, groups, lam, rows)[scored]
        truth = y[scored]
        balanced = 0.5 * sum(error_rates(probs, truth))
        loss = -np.mean(truth * np.log(probs + 1e-12) + (1 - truth) * np.log(1 - probs + 1e-12))
        trials[lam] = (round(float(balanced), 4), round(float(loss), 4), probs)
    best = one_standard_error(trials, y[scored])
    cv_answer = {r["id"]: bool(p >= 0.5) for r, p in zip(decided, trials[best][2])}
    cv = rates(dev, [cv_answer.get(r["id"], False) for r in dev])
    batched = [r for r in dev if r["id"] in batch_of]
    mean, std = standardise(x)
    w, b = fit((x - mean) / std, y, best, rows)
    raw = w / std
    bias = b - float(raw @ mean)
    result = {
        "by_batch": by_batch(dev, cv_answer, batch_of),
        "dev_questions": len(dev),
        "dev_decisions": len(decided),
        "cmrc_rows": len(train) - len(decided),
        "cmrc_weight": args.cmrc_weight,
        "lambda": best,
        "cv_by_lambda": {
            str(k): {"balanced_error": v[0], "log_loss": v[1]} for k, v in trials.items()
        },
        "cv_dev": cv,
        "cv_batches": rates(batched, [cv_answer.get(r["id"], False) for r in batched]),
        "weights": {name: round(float(v), 3) for name, v in zip(FEATURES, raw)},
        "bias": round(bias, 3),
        "misses_cv": [
            r["id"] for r, p in zip(decided, trials[best][2]) if (p >= 0.5) != r["answerable"]
        ],
    }
    return save("answerability", result)


if __name__ == "__main__":
    main()
