"""qa.reader: the shipped weights, its place in the answer decision, and the exported model."""

from __future__ import annotations

import importlib

import pytest

from qa import Index, answer, build_index
from qa.evidence import FEATURE_LOG, FEATURES, answerable
from qa.reader import WEIGHTS, reader_for, weights_metadata


@pytest.fixture
def index(tiny_corpus, tmp_path, fake_embedder, monkeypatch) -> Index:
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


def test_other_models_get_no_reader(fake_embedder):
    assert reader_for(fake_embedder.model_id) is None


@pytest.mark.parametrize("weights", WEIGHTS, ids=lambda path: path.stem)
def test_shipped_weights_hold_only_the_trained_layers_and_head(weights):
    from safetensors import safe_open

    metadata = weights_metadata(weights)
    trained = int(metadata["trained_layers"])
    with safe_open(str(weights), framework="numpy") as handle:
        names = list(handle.keys())
    layers = {name.split(".")[3] for name in names if name.startswith("encoder.encoder.layer.")}
    assert len(layers) == trained
    assert {"head.weight", "head.bias"} <= set(names)
    assert all(name.startswith(("encoder.encoder.layer.", "head.")) for name in names)


def test_the_shipped_readers_are_one_per_fold_and_share_a_centre():
    """Served together, so each dev question was read out of fold by exactly one of them."""
    folds = [weights_metadata(path)["fold"] for path in WEIGHTS]
    assert len(WEIGHTS) >= 2
    assert sorted(folds) == [f"{k}/{len(WEIGHTS)}" for k in range(len(WEIGHTS))]
    assert len({weights_metadata(path)["centre"] for path in WEIGHTS}) == 1


@pytest.mark.slow
def test_exported_reader_reads_like_the_trained_model_and_tells_an_answer_apart():
    import torch
    from transformers import AutoTokenizer

    from qa.e5_convert import DEFAULT_MODEL_ID, default_model_dir
    from qa.reader import PASSAGE_PROMPT, QUERY_PROMPT, build_torch_ensemble, build_torch_reader

    reader = reader_for(DEFAULT_MODEL_ID)
    question = "碳排放权交易管理暂行条例自什么时候起施行？"
    answering = "本条例自2024年5月1日起施行。"
    other = "国家鼓励和支持甲烷排放控制技术的研发和推广应用。"
    assert reader.score(question, answering) > reader.score(question, other)

    source = default_model_dir()
    ensemble = build_torch_ensemble(source)
    members = [build_torch_reader(source, path) for path in WEIGHTS]
    tokenizer = AutoTokenizer.from_pretrained(source)
    for quote in (answering, other):
        batch = tokenizer(QUERY_PROMPT + question, PASSAGE_PROMPT + quote, return_tensors="pt")
        inputs = (batch["input_ids"], batch["attention_mask"])
        with torch.no_grad():
            expected = float(ensemble(*inputs)[0])
            each = [float(member(*inputs)[0]) for member in members]
        assert expected == pytest.approx(sum(each) / len(each), abs=1e-4)
        assert reader.score(question, quote) + reader.centre == pytest.approx(expected, abs=0.5)


class StubReader:
    """A reader with a fixed verdict that records what it was asked to read."""

    def __init__(self, verdict: float) -> None:
        self.verdict, self.reads = verdict, []

    def score(self, question: str, quote: str) -> float:
        self.reads.append((question, quote))
        return self.verdict


@pytest.mark.parametrize("verdict", [20.0, -20.0])
def test_the_readers_verdict_decides_a_close_call(index, monkeypatch, verdict):
    evidence = importlib.import_module("qa.evidence")
    # Every decision within the reader's reach, so that its verdict alone decides this one.
    monkeypatch.setitem(evidence.WEIGHTS, "reader", 100.0)
    stub = StubReader(verdict)
    monkeypatch.setattr(importlib.import_module("qa.answer"), "reader_for", lambda model: stub)
    question = "未按时足额清缴碳排放配额会受到什么处理？"
    result = answer(question, index=index)
    assert result.found is (verdict > 0)
    ((read_question, quote),) = stub.reads
    assert read_question == question and "清缴" in quote


def features(coverage: float = 1.0) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.0) | {"coverage": coverage}


@pytest.fixture
def plain_decision(monkeypatch):
    """logit = bias + coverage + reader, the reader clamped to ±4."""
    evidence = importlib.import_module("qa.evidence")
    monkeypatch.setattr(evidence, "WEIGHTS", dict.fromkeys(FEATURES, 0.0))
    monkeypatch.setitem(evidence.WEIGHTS, "coverage", 1.0)
    monkeypatch.setitem(evidence.WEIGHTS, "reader", 1.0)
    monkeypatch.setattr(evidence, "READER_BOUNDS", (-4.0, 4.0))
    return lambda bias: monkeypatch.setattr(evidence, "BIAS", bias)


def unread() -> float:
    raise AssertionError("the reader was asked though it couldn't change the decision")


def test_the_reader_is_asked_only_when_it_could_change_the_decision(plain_decision):
    plain_decision(-1.0)  # logit 0 without the reader: its verdict decides
    assert answerable(features(), lambda: 0.5)
    assert not answerable(features(), lambda: -0.5)
    plain_decision(-6.0)  # -5: not even the clamped best verdict (+4) reaches the threshold
    assert not answerable(features(), unread)
    plain_decision(5.0)
    assert answerable(features(), unread)
    assert not answerable(features(coverage=0.0), unread)  # no question word held: a rule


def test_the_reader_is_not_asked_where_its_highest_verdict_cant_lift_the_answer(
    plain_decision, monkeypatch
):
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "READER_BOUNDS", (-4.0, 1.0))
    plain_decision(-2.5)  # -1.5: even the best verdict (+1) leaves it declined
    assert not answerable(features(), unread)
    plain_decision(-1.5)  # -0.5: a good verdict lifts it, a poor one leaves it
    assert answerable(features(), lambda: 0.8)
    assert not answerable(features(), lambda: 0.2)
    plain_decision(2.0)  # 3: only the lowest verdicts (down to -4) could decline it
    assert not answerable(features(), lambda: -3.5)


def test_an_outlying_verdict_is_clamped_and_every_read_is_logged_for_the_fit(plain_decision):
    plain_decision(-5.5)  # -4.5 without the reader; a verdict of 100 counts as 4
    assert not answerable(features(), lambda: 100.0)
    log = []
    token = FEATURE_LOG.set(log)
    try:
        plain_decision(-10.0)
        answerable(features(), lambda: -100.0)
    finally:
        FEATURE_LOG.reset(token)
    assert log[-1]["reader"] == -4.0
