"""bench.answerability's held-out estimate: a batch is decided by a model fitted without it."""

from __future__ import annotations

import numpy as np

from bench.answerability import LAMBDAS, by_batch, cross_validate, one_standard_error
from qa.evidence import FEATURES


def row(qid: str, answerable: bool, coverage: float) -> dict:
    features = dict.fromkeys(FEATURES, 0.0) | {"coverage": coverage}
    return {"id": qid, "answerable": answerable, "features": features, "found": True,
            "fact": answerable}  # fmt: skip


def cross_validated(dev: list[dict], batch_of: dict[str, int], lam: float = 1.0) -> np.ndarray:
    x = np.array([[r["features"][name] for name in FEATURES] for r in dev])
    y = np.array([float(r["answerable"]) for r in dev])
    groups = np.array([batch_of.get(r["id"], 0) for r in dev])
    return cross_validate(x, y, groups, lam, np.ones(len(dev)))


def test_a_batch_is_scored_by_a_model_that_never_saw_it():
    # Old questions: coverage separates them at 0.5. Batch 1 follows the same rule; batch 2 is
    # new wording where the rule fails (unanswerable questions with high coverage).
    old = [row(f"o{i}", i % 2 == 0, 0.9 if i % 2 == 0 else 0.1) for i in range(20)]
    same = [row("s1", True, 0.8), row("s2", False, 0.2)]
    new = [row("n1", True, 0.9), row("n2", False, 0.9), row("n3", False, 0.85)]
    dev = old + same + new
    batch_of = {"s1": 1, "s2": 1, "n1": 2, "n2": 2, "n3": 2}
    probs = cross_validated(dev, batch_of)
    report = by_batch(dev, {r["id"]: bool(p >= 0.5) for r, p in zip(dev, probs)}, batch_of)
    assert report["1"] == {"questions": 2, "fact": 1.0, "wrongly_declined": 0.0, "refused": 1.0}
    assert report["2"]["questions"] == 3 and report["2"]["refused"] == 0.0
    assert report["2"]["fact"] == 1.0


def test_batch_mates_are_left_out_together():
    # Batch 2's unanswerable questions share a wording the old ones never had (coverage 0.7).
    # Left out one at a time, its mates would teach the model to refuse it; left out as a batch,
    # nothing did, which is what a new batch meets.
    old = [row(f"o{i}", i % 2 == 0, 0.9 if i % 2 == 0 else 0.1) for i in range(20)]
    new = [row(f"n{i}", False, 0.7) for i in range(8)]
    dev = old + new
    batch_of = {r["id"]: 2 for r in new}
    by_batch_probs = cross_validated(dev, batch_of, lam=0.01)[len(old) :]
    one_at_a_time = cross_validated(dev, {r["id"]: i + 1 for i, r in enumerate(dev)}, 0.01)[
        len(old) :
    ]
    assert (by_batch_probs >= 0.5).all()
    assert (one_at_a_time < 0.5).all()


def test_the_most_regularised_lambda_within_one_standard_error_is_chosen():
    truth = np.array([1.0] * 50 + [0.0] * 50)
    best = np.array([0.9] * 45 + [0.1] * 5 + [0.1] * 45 + [0.9] * 5)  # misses 5 on each side
    swapped = best.copy()
    swapped[44], swapped[45] = 0.1, 0.9  # another answerable question missed, one fewer
    trials = {lam: (0.0, 0.3, swapped) for lam in LAMBDAS}
    trials[0.3] = (0.0, 0.3, best)
    assert one_standard_error(trials, truth) == max(LAMBDAS)  # a question either way: within
    worse = best.copy()
    worse[35:45] = 0.1  # ten more answerable questions declined
    trials[30.0] = (0.0, 0.3, worse)
    assert one_standard_error(trials, truth) == 10.0
