"""bench.answerability's held-out estimate: a batch is decided by a model fitted without it."""

from __future__ import annotations

import numpy as np

from bench.answerability import LAMBDAS, held_out_batches, one_standard_error
from qa.evidence import FEATURES


def row(qid: str, answerable: bool, coverage: float) -> dict:
    features = dict.fromkeys(FEATURES, 0.0) | {"coverage": coverage}
    return {"id": qid, "answerable": answerable, "features": features, "found": True,
            "fact": answerable}  # fmt: skip


def test_a_batch_is_scored_by_a_model_that_never_saw_it():
    # Old questions: coverage separates them at 0.5. Batch 1 follows the same rule; batch 2 is
    # new wording where the rule fails (unanswerable questions with high coverage).
    old = [row(f"o{i}", i % 2 == 0, 0.9 if i % 2 == 0 else 0.1) for i in range(20)]
    same = [row("s1", True, 0.8), row("s2", False, 0.2)]
    new = [row("n1", True, 0.9), row("n2", False, 0.9), row("n3", False, 0.85)]
    batch_of = {"s1": 1, "s2": 1, "n1": 2, "n2": 2, "n3": 2}
    report = held_out_batches(old + same + new, [], 1.0, 1.0, batch_of)
    assert report["1"] == {"questions": 2, "fact": 1.0, "wrongly_declined": 0.0, "refused": 1.0}
    assert report["2"]["questions"] == 3 and report["2"]["refused"] == 0.0
    assert report["2"]["fact"] == 1.0


def test_the_most_regularised_lambda_within_one_standard_error_is_chosen():
    truth = np.array([1.0] * 50 + [0.0] * 50)
    # the best λ misses 5 of 50 on each side; SE ≈ 0.03
    best = np.array([0.9] * 45 + [0.1] * 5 + [0.1] * 45 + [0.9] * 5)
    trials = {lam: (0.12, 0.3, best) for lam in LAMBDAS}
    trials[0.3] = (0.10, 0.3, best)
    assert one_standard_error(trials, truth) == max(LAMBDAS)  # 0.12 is within 0.10 + SE
    trials[30.0] = (0.20, 0.3, best)  # clearly worse: not chosen
    assert one_standard_error(trials, truth) == 10.0
