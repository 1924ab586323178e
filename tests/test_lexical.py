"""BM25 from precomputed postings: the same scores as SQLite FTS5's bm25(), in milliseconds."""

from __future__ import annotations

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


@pytest.mark.parametrize("query", QUERIES)
def test_scores_equal_sqlite_fts5_bm25(index_dir, query):
    conn = connect(index_dir / DB_NAME, readonly=True)
    terms = tokenize(query)
    expected = fts5_bm25(conn, terms, 50)
    found = build(conn).search(terms, 50)
    assert {pid for pid, _ in found} == set(expected)
    for pid, score in found:
        assert score == pytest.approx(expected[pid], rel=1e-5)
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)


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
