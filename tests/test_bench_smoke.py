"""The benchmark entry points still run (the benchmarks themselves stay out of pytest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

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


def test_milvus_benchmark_compares_both_stores_on_a_tiny_corpus(tmp_path, fake_embedder):
    """bench.milvus scores the local folder and its Milvus Lite copy the same way."""
    pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
    from bench import milvus as bench_milvus
    from qa.milvus_store import MilvusStore
    from qa.milvus_sync import sync

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quota.md").write_text(
        "---\ntitle: 配额清缴办法\n---\n\n第一条　重点排放单位应当按时足额清缴碳排放配额。\n\n"
        "第二条　未按时清缴的，处二万元以上三万元以下的罚款。\n",
        encoding="utf-8",
    )
    (corpus / "methane.md").write_text(
        "---\ntitle: 甲烷排放控制方案\n---\n\n推进油气田甲烷泄漏检测与修复。\n\n"
        "鼓励煤矿瓦斯抽采利用。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    uri = f"milvus://{tmp_path / 'milvus.db'}"
    sync(tmp_path / "index", uri, replace=True)
    local = Index(tmp_path / "index", embedder=fake_embedder)
    milvus = Index(tmp_path / "index", embedder=fake_embedder, store=uri)
    store = MilvusStore(uri)
    questions = [
        {"q": "未按时清缴配额罚款多少", "doc": "quota.md", "contains": "二万元以上三万元以下"},
        {"q": "油气田甲烷泄漏检测", "doc": "methane.md", "contains": "泄漏检测与修复"},
    ]
    result = bench_milvus.retrieval(local, milvus, store, questions)
    store.close()
    milvus.close()
    local.close()
    assert result["questions"] == 2
    # Both stores hold the same vectors and search them exactly: dense rankings agree.
    assert result["same_top1"]["dense"] == 1.0
    assert result["ours"]["dense"]["local"] == result["ours"]["dense"]["milvus"]
    # A keyword query on a tiny corpus finds its passage first on both stores and with
    # both of Milvus' own rankers.
    assert result["ours"]["lexical"]["local"]["hit@1"] == 1.0
    assert result["ours"]["lexical"]["milvus"]["hit@1"] == 1.0
    assert set(result["milvus_hybrid_search"]) == {"rrf_60", "weighted_0.5_0.5"}
    assert all(r["hit@5"] == 1.0 for r in result["milvus_hybrid_search"].values())
