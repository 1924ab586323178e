"""qa.reader: the shipped weights, its place in the answer decision, and the exported model."""

from __future__ import annotations

import importlib

import pytest

from qa import Index, build_index
from qa.reader import WEIGHTS, reader_for, weights_metadata


@pytest.fixture
def index(tiny_corpus, tmp_path, fake_embedder, monkeypatch) -> Index:
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


def test_other_models_get_no_reader(fake_embedder):
    assert reader_for(fake_embedder.model_id) is None


def test_shipped_weights_hold_only_the_trained_layers_and_head():
    from safetensors import safe_open

    metadata = weights_metadata()
    trained = int(metadata["trained_layers"])
    float(metadata["centre"])
    with safe_open(str(WEIGHTS), framework="numpy") as handle:
        names = list(handle.keys())
    layers = {name.split(".")[3] for name in names if name.startswith("encoder.encoder.layer.")}
    assert len(layers) == trained
    assert {"head.weight", "head.bias"} <= set(names)
    assert all(name.startswith(("encoder.encoder.layer.", "head.")) for name in names)


@pytest.mark.slow
def test_exported_reader_reads_like_the_trained_model_and_tells_an_answer_apart():
    import torch
    from transformers import AutoTokenizer

    from qa.e5_convert import DEFAULT_MODEL_ID, default_model_dir
    from qa.reader import PASSAGE_PROMPT, QUERY_PROMPT, build_torch_reader

    reader = reader_for(DEFAULT_MODEL_ID)
    question = "碳排放权交易管理暂行条例自什么时候起施行？"
    answering = "本条例自2024年5月1日起施行。"
    other = "国家鼓励和支持甲烷排放控制技术的研发和推广应用。"
    assert reader.score(question, answering) > reader.score(question, other)

    source = default_model_dir()
    model = build_torch_reader(source, WEIGHTS)
    tokenizer = AutoTokenizer.from_pretrained(source)
    for quote in (answering, other):
        batch = tokenizer(QUERY_PROMPT + question, PASSAGE_PROMPT + quote, return_tensors="pt")
        with torch.no_grad():
            expected = float(model(batch["input_ids"], batch["attention_mask"])[0])
        assert reader.score(question, quote) + reader.centre == pytest.approx(expected, abs=0.5)
