"""Retrieval API: results, filters and edge cases (fake embedder; the real model is in test_quality)."""

from __future__ import annotations

import numpy as np
import pytest

from qa import Index, build_index
from qa.search import Passage


@pytest.fixture
def index(tiny_corpus, tmp_path, fake_embedder) -> Index:
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


def test_passage_fields_and_citation(index):
    [top] = index.search("未按时足额清缴碳排放配额怎么处理", k=1)
    assert isinstance(top, Passage)
    assert (
        top.doc_id == "market.md" and top.title == "碳市场配额管理说明" and top.date == "2024-02-04"
    )
    assert top.paragraph == 2 and top.text.startswith("未按时足额清缴碳排放配额的")
    assert top.citation == "《碳市场配额管理说明》，2024-02-04，第2段"
    assert top.lexical_score > 0 and -1 <= top.dense_score <= 1


def test_heading_is_attached(index):
    [top] = index.search("煤矿瓦斯抽采利用", k=1)
    assert top.heading == "二、重点任务" and top.paragraph == 5


def test_results_are_sorted_and_unique(index):
    hits = index.search("碳排放配额", k=7)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.passage_id for h in hits}) == len(hits) == 7


def test_k_larger_than_index_returns_everything(index):
    assert len(index.search("甲烷", k=1000)) == 8


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_bad_k_is_value_error(index, k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search("甲烷", k=k)


@pytest.mark.parametrize("query", [None, 42, b"bytes", ["list"]])
def test_non_string_query_is_value_error(index, query):
    with pytest.raises(ValueError, match="query must be a string"):
        index.search(query)


@pytest.mark.parametrize("query", ["", "   ", "，。！？", "……"])
def test_empty_or_punctuation_query_returns_nothing(index, query):
    assert index.search(query) == []


def test_overlong_query_is_truncated_not_refused(index):
    assert len(index.search("碳排放配额清缴" * 3000, k=3)) == 3


def test_full_width_query_matches_half_width_text(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# 标准\n\n执行GB 12345标准，排放限值为100毫克。\n\n另一段与标准无关的内容说明。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "i", embedder=fake_embedder)
    [top] = Index(tmp_path / "i", embedder=fake_embedder).search("ＧＢ　１２３４５", k=1)
    assert "GB 12345" in top.text and top.lexical_score > 0


def test_filter_by_document_and_date(index):
    assert {p.doc_id for p in index.search("排放", k=10, docs=["methane.md"])} == {"methane.md"}
    assert {p.doc_id for p in index.search("排放", k=10, docs="market.md")} == {"market.md"}
    assert {p.date for p in index.search("排放", k=10, date_from="2024-01-01")} == {"2024-02-04"}
    assert index.search("排放", k=10, date_to="2020-01-01") == []
    assert index.search("排放", k=10, docs=[]) == []


def test_bad_date_is_value_error(index):
    with pytest.raises(ValueError, match="date_from must be"):
        index.search("排放", date_from="last year")


def test_vector_of_wrong_dimension_is_value_error(index):
    with pytest.raises(ValueError, match="dimension 3"):
        index.search_vector(np.ones(3), k=1)


def test_no_minus_one_labels_surface(index):
    hits = index.search_vector(np.ones(index.dim) / np.sqrt(index.dim), k=50)
    assert len(hits) == 8 and all(h.passage_id > 0 for h in hits)


def test_open_index_sees_a_new_build(tiny_corpus, index, fake_embedder, tmp_path):
    assert index.size == 8
    (tiny_corpus / "extra.md").write_text(
        "# 补充\n\n氢能产业发展规划提出加快绿氢示范应用。\n", encoding="utf-8"
    )
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    assert index.size == 9
    assert index.search("绿氢示范", k=1)[0].doc_id == "extra.md"


def test_documents_listing(index):
    docs = {d["doc_id"]: d for d in index.documents()}
    assert docs["methane.md"]["passages"] == 3 and docs["methane.md"]["title"] == "甲烷排放控制要点"
