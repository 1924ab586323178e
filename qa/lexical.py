"""BM25 over jieba terms, precomputed per index generation, as bm25s does.

SQLite's FTS5 `bm25()` scores every row that matches any query term, so a question with common
words (中国, 排放, 控制) cost 190 ms at 100k passages (bench/results/scale.json). Here every
(term, passage) weight is computed once when a generation is committed; a query adds up the
posting lists of its terms and takes the top n, in a few milliseconds. The weights are FTS5's:
k1 = 1.2, b = 0.75, IDF = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, so scores match what
`bm25()` gave, except that a term FTS5 splits (13.5% → 13, 5) counts as its parts rather than
as a phrase. The terms themselves stay in the FTS5 table, the source this file is built from.
"""

from __future__ import annotations

import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError
from qa.vectors import write_file_atomically

K1, B = 1.2, 0.75
# FTS5's unicode61 tokenizer splits on everything but letters and digits ("13.5%" → 13, 5).
_TOKEN = re.compile(r"[^\W_]+")


def fts_tokens(terms: list[str] | str) -> list[str]:
    text = terms if isinstance(terms, str) else " ".join(terms)
    return _TOKEN.findall(text)


@dataclass
class LexicalIndex:
    ids: np.ndarray  # passage ids, ascending; a posting's passage is a position in this array
    terms: np.ndarray  # the vocabulary; postings of terms[t] are offsets[t]:offsets[t + 1]
    offsets: np.ndarray
    positions: np.ndarray
    weights: np.ndarray
    _vocabulary: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._vocabulary = {term: i for i, term in enumerate(self.terms.tolist())}

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vocabulary(self) -> dict[str, int]:
        """Term → its number; a term absent here occurs in no passage."""
        return self._vocabulary

    def search(self, terms: list[str], n: int, allowed_ids: np.ndarray | None = None):
        """[(passage id, BM25 score)] of the n best passages holding any of `terms`."""
        vocabulary = self._vocabulary
        found = [vocabulary[t] for t in dict.fromkeys(fts_tokens(terms)) if t in vocabulary]
        if not found or n <= 0:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for term in found:
            start, end = self.offsets[term], self.offsets[term + 1]
            scores[self.positions[start:end]] += self.weights[start:end]
        if allowed_ids is not None:
            at = np.searchsorted(self.ids, allowed_ids).clip(0, max(len(self.ids) - 1, 0))
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[at[self.ids[at] == allowed_ids]] = True
            scores[~mask] = 0.0
        matching = np.flatnonzero(scores)
        if len(matching) > n:
            matching = matching[np.argpartition(-scores[matching], n - 1)[:n]]
        matching = matching[np.lexsort((self.ids[matching], -scores[matching]))]
        return [(int(self.ids[i]), float(scores[i])) for i in matching]


def build(conn: sqlite3.Connection) -> LexicalIndex:
    """BM25 weights of every (term, passage) in the FTS5 table of this connection."""
    rows = conn.execute("SELECT rowid, terms FROM passage_terms ORDER BY rowid").fetchall()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    vocabulary: dict[str, int] = {}
    tokens = [
        [vocabulary.setdefault(t, len(vocabulary)) for t in fts_tokens(row[1])] for row in rows
    ]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    term_of = np.fromiter(
        (t for row in tokens for t in row), dtype=np.int64, count=int(lengths.sum())
    )
    position_of = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    pairs, tf = np.unique(term_of * max(len(rows), 1) + position_of, return_counts=True)
    term, position = pairs // max(len(rows), 1), pairs % max(len(rows), 1)
    df = np.bincount(term, minlength=len(vocabulary))
    idf = np.maximum(np.log((len(rows) - df + 0.5) / (df + 0.5)), 1e-6)
    average_length = max(float(lengths.mean()), 1e-9) if len(rows) else 1.0
    norm = K1 * (1 - B + B * lengths[position] / average_length)
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(df, out=offsets[1:])
    return LexicalIndex(
        ids=ids,
        terms=np.array(list(vocabulary), dtype=str),
        offsets=offsets,
        positions=position.astype(np.int32),
        weights=(idf[term] * tf * (K1 + 1) / (tf + norm)).astype(np.float32),
    )


def write_atomic(lexical: LexicalIndex, path: Path) -> None:
    """Save the postings atomically (qa.vectors.write_file_atomically)."""

    def write(temp_name: str) -> None:
        with open(temp_name, "wb") as handle:  # a name would get ".npz" appended
            np.savez(handle, ids=lexical.ids, terms=lexical.terms, offsets=lexical.offsets,
                     positions=lexical.positions, weights=lexical.weights)  # fmt: skip

    write_file_atomically(path, write)


def load(path: Path, count: int, ids: np.ndarray | None = None) -> LexicalIndex:
    """Read a saved file and check it covers `count` passages (exactly `ids`, when given);
    IndexCorruptError otherwise."""
    try:
        with np.load(path, allow_pickle=False) as data:
            lexical = LexicalIndex(**{key: data[key] for key in
                                      ("ids", "terms", "offsets", "positions", "weights")})  # fmt: skip
    except FileNotFoundError:
        raise IndexCorruptError(f"term file {path.name} is missing") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise IndexCorruptError(f"term file {path.name} cannot be read ({error})") from None
    positions = lexical.positions
    if (
        len(lexical) != count
        or lexical.offsets[-1] != len(positions)
        or (len(positions) and not 0 <= positions.min() <= positions.max() < len(lexical))
    ):
        raise IndexCorruptError(
            f"term file {path.name} covers {len(lexical)} passages, the metadata expects {count}"
        )
    if ids is not None and not np.array_equal(lexical.ids, ids):
        raise IndexCorruptError(f"term file {path.name} names other passages than the database")
    return lexical
