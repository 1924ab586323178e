"""The benchmark entry points still run (the benchmarks themselves stay out of pytest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from bench import report, scale, synthetic
from qa import Index, build_index

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def test_report_renders_every_committed_result(tmp_path):
    for path in RESULTS.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    out = tmp_path / "benchmarks.md"
    report.main([str(tmp_path), str(out)])
    text = out.read_text(encoding="utf-8")
    hybrid = json.loads((tmp_path / "retrieval.json").read_text())["quality"]["hybrid"]
    assert f"| hybrid | {hybrid['hit@1']:.3f} |" in text
    assert "no-answer recall" in text and "naive baseline" in text
    headings = {name: heading for name, heading in (
        ("cmrc", "## Public set: CMRC 2018"), ("scale", "## Speed and scale"),
        ("faiss", "## FAISS index types"), ("embedders", "## Embedding backends"),
        ("build", "## Build speed"), ("startup", "## Start-up"), ("soak", "## Soak"),
    )}  # fmt: skip
    for name, heading in headings.items():
        assert (heading in text) == (tmp_path / f"{name}.json").exists(), name


def test_report_without_results_says_how_to_get_them(tmp_path):
    assert "run `make bench`" in report.render(tmp_path)


def test_synthetic_corpus_builds_with_composed_vectors(tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(synthetic, "CACHE", tmp_path / "cache")
    documents = synthetic.write_corpus(tmp_path / "corpus", 100)
    assert documents == 5
    composed = synthetic.ComposedEmbedder(fake_embedder)
    report = build_index([tmp_path / "corpus"], tmp_path / "index", embedder=composed)
    assert 90 <= report.passages <= 100 and report.embedded == report.passages
    assert composed.cache_file.exists() and composed.really_embedded > 0
    # A second embedder reads the cached sentence vectors instead of embedding them again.
    again = synthetic.ComposedEmbedder(fake_embedder)
    vectors = again.embed_passages(["第一句话。第二句话。"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    hits = Index(tmp_path / "index", embedder=composed).search("碳排放权交易", k=3)
    assert len(hits) == 3


def test_growth_is_named_from_the_measured_exponent():
    assert scale.growth(10.0, 1000.0, 100).startswith("linear")
    assert scale.growth(10.0, 11.0, 100).startswith("flat")
    assert scale.growth(10.0, 100.0, 100).startswith("sublinear")
