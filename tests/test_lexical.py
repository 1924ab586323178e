"""BM25 from precomputed postings: the passages SQLite FTS5 matches, with Lucene's BM25 scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa import Index, build_index
from qa.lexical import build, fts_tokens
from qa.store import DB_NAME, connect
from qa.text import tokenize

QUERIES = [
    "碳排放配额清缴",
    "甲烷回收利用",
    "新能源公交车比重",
    "排放",
    "二氧化碳排放下降",
    "没有的词语",
]


@pytest.fixture
def index_dir(tiny_corpus, tmp_path, fake_embedder):
    (tiny_corpus / "numbers.md").write_text(
        "# 数字\n\n非化石能源消费比重达到13.5%左右，单位GDP二氧化碳排放下降18%。\n",
        encoding="utf-8",
    )
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return tmp_path / "index"


def fts5_bm25(conn, terms: list[str], n: int) -> dict[int, float]:
    match = " OR ".join('"' + term.replace('"', '""') + '"' for term in dict.fromkeys(terms))
    rows = conn.execute(
        "SELECT rowid, -bm25(passage_terms) FROM passage_terms WHERE passage_terms MATCH ? "
        "ORDER BY bm25(passage_terms) LIMIT ?",
        [match, n],
    )
    return dict(rows.fetchall())


def reference_bm25(conn, terms: list[str]) -> dict[int, float]:
    """BM25 written out from its definition (k1 1.2, b 0.75, Lucene's IDF) over the FTS5 terms."""
    docs = {
        rowid: fts_tokens(text)
        for rowid, text in conn.execute("SELECT rowid, terms FROM passage_terms")
    }
    average = sum(map(len, docs.values())) / len(docs)
    scores: dict[int, float] = {}
    for term in dict.fromkeys(fts_tokens(terms)):
        df = sum(term in tokens for tokens in docs.values())
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for rowid, tokens in docs.items():
            if tf := tokens.count(term):
                norm = 1.2 * (1 - 0.75 + 0.75 * len(tokens) / average)
                scores[rowid] = scores.get(rowid, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores


@pytest.mark.parametrize("query", QUERIES)
def test_scores_equal_bm25_over_the_passages_fts5_matches(index_dir, query):
    conn = connect(index_dir / DB_NAME, readonly=True)
    terms = tokenize(query)
    expected = reference_bm25(conn, terms)
    found = build(conn).search(terms, 50)
    assert {pid for pid, _ in found} == set(fts5_bm25(conn, terms, 50)) == set(expected)
    for pid, score in found:
        assert score == pytest.approx(expected[pid], rel=1e-5)
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    # A word most passages hold still counts (FTS5's IDF gave it none).
    if query == "排放":
        assert found and min(score for _, score in found) > 0.01


def test_tokens_split_like_unicode61(index_dir):
    tokens = fts_tokens(["13.5%", "二氧化碳", "co2", "a_b"])
    assert tokens == ["13", "5", "二氧化碳", "co2", "a", "b"]
    # FTS5 would read 13.5% as the phrase "13 5"; its parts count here, as separate terms.
    conn = connect(index_dir / DB_NAME, readonly=True)
    [(top, _), *_] = build(conn).search(tokenize("比重13.5%"), 5)
    text = conn.execute("SELECT text FROM passages WHERE id = ?", (top,)).fetchone()[0]
    assert "13.5%" in text


def test_top_n_and_allowed_ids(index_dir):
    lexical = build(connect(index_dir / DB_NAME, readonly=True))
    everything = lexical.search(["排放"], 50)
    assert len(everything) > 2
    assert lexical.search(["排放"], 2) == everything[:2]
    allowed = np.array(sorted(pid for pid, _ in everything[1:3]), dtype=np.int64)
    assert lexical.search(["排放"], 50, allowed) == everything[1:3]
    assert lexical.search(["排放"], 50, np.array([10**9], dtype=np.int64)) == []
    assert lexical.search([], 5) == [] and lexical.search(["没有"], 5) == []


def test_each_commit_writes_its_terms_file_and_drops_the_old(index_dir, tiny_corpus, fake_embedder):
    [first] = index_dir.glob("terms-*.npz")
    (tiny_corpus / "extra.md").write_text(
        "# 补充\n\n氢能产业发展规划提出加快绿氢示范应用。\n", encoding="utf-8"
    )
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    [second] = index_dir.glob("terms-*.npz")
    assert second.name != first.name
    assert (
        Index(index_dir, embedder=fake_embedder).search("绿氢示范", k=1, mode="lexical")[0].doc_id
        == "extra.md"
    )


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_damaged_terms_file_is_rebuilt_from_sqlite(index_dir, fake_embedder, damage):
    expected = Index(index_dir, embedder=fake_embedder).search(
        "碳排放配额清缴", k=3, mode="lexical"
    )
    [terms_file] = index_dir.glob("terms-*.npz")
    if damage == "delete":
        terms_file.unlink()
    else:
        data = terms_file.read_bytes()
        terms_file.write_bytes(
            data[: len(data) // 2] if damage == "truncate" else b"PK\x03\x04" * 64
        )
    index = Index(index_dir, embedder=fake_embedder)
    assert index.search("碳排放配额清缴", k=3, mode="lexical") == expected
    assert index._reader.repaired
