"""The FAISS index type is a setting: flat (exact, default) or HNSW, recorded in the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from qa import Index, build_index
from qa.store import DB_NAME, connect, read_meta
from qa.vectors import EXACT_FILTER_LIMIT, build, search


def _manifest(index_dir) -> dict:
    return read_meta(connect(index_dir / DB_NAME, readonly=True))


def test_hnsw_index_finds_what_flat_finds(tiny_corpus, tmp_path, fake_embedder):
    flat_dir, hnsw_dir = tmp_path / "flat", tmp_path / "hnsw"
    build_index([tiny_corpus], flat_dir, embedder=fake_embedder)
    build_index([tiny_corpus], hnsw_dir, embedder=fake_embedder, vector_index="hnsw")
    assert _manifest(flat_dir)["vector_index"] == "flat"
    assert _manifest(hnsw_dir)["vector_index"] == "hnsw"
    flat, hnsw = Index(flat_dir, embedder=fake_embedder), Index(hnsw_dir, embedder=fake_embedder)
    for query in ("甲烷回收利用", "碳排放配额清缴", "排放"):
        assert [p.passage_id for p in hnsw.search(query, k=5)] == [
            p.passage_id for p in flat.search(query, k=5)
        ]
    assert {p.doc_id for p in hnsw.search("排放", k=10, docs=["methane.md"])} == {"methane.md"}


def test_switching_type_rewrites_vectors_without_reembedding(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    report = build_index([tiny_corpus], index_dir, embedder=fake_embedder, vector_index="hnsw")
    assert report.embedded == 0
    assert _manifest(index_dir)["vector_index"] == "hnsw"
    # A later build without a choice keeps the index's type.
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    assert _manifest(index_dir)["vector_index"] == "hnsw"
    assert Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=1)


def test_environment_variable_chooses_the_type(tiny_corpus, tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setenv("QA_VECTOR_INDEX", "hnsw")
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    assert _manifest(tmp_path / "index")["vector_index"] == "hnsw"


def test_unknown_type_is_refused_with_the_options(tiny_corpus, tmp_path, fake_embedder):
    with pytest.raises(ValueError, match="flat, hnsw"):
        build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder, vector_index="ivf")
    assert not (tmp_path / "index").exists()


def test_vector_file_of_another_type_is_rebuilt_from_sqlite(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder, vector_index="hnsw")
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3)
    [vector_file] = index_dir.glob("vectors-*.faiss")
    import faiss

    ids = np.arange(1, 9, dtype=np.int64)
    faiss.write_index(
        build(ids, np.eye(8, fake_embedder.dim, dtype=np.float32), fake_embedder.dim),
        str(vector_file),
    )
    index = Index(index_dir, embedder=fake_embedder)
    assert index.search("甲烷回收利用", k=3) == expected
    assert index._reader.repaired


@pytest.mark.parametrize("allowed", [3, EXACT_FILTER_LIMIT + 10])
def test_filtered_hnsw_search_matches_exact_search(allowed):
    rng = np.random.default_rng(0)
    count = max(allowed, 2000)
    matrix = rng.normal(size=(count, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(10, 10 + count, dtype=np.int64)
    subset = np.sort(rng.choice(ids, size=allowed, replace=False))
    query = matrix[5]
    flat_ids, flat_scores = search(build(ids, matrix, 16), query, 3, subset)
    hnsw_ids, hnsw_scores = search(build(ids, matrix, 16, "hnsw"), query, 3, subset)
    assert set(flat_ids) <= set(subset.tolist())
    assert hnsw_ids.tolist() == flat_ids.tolist()
    np.testing.assert_allclose(hnsw_scores, flat_scores, rtol=1e-5)
