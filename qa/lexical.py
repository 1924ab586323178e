"""BM25 over jieba terms, precomputed per index generation, as bm25s does.

SQLite's FTS5 `bm25()` scores every row that matches any query term, so a question with common
words (中国, 排放, 控制) cost 190 ms at 100k passages (bench/results/scale.json). Here every
(term, passage) weight is computed once when a generation is loaded; a query adds up the
posting lists of its terms and takes the top n, in a few milliseconds. k1 = 1.2, b = 0.75 and
Lucene's IDF = ln(1 + (N - n + 0.5) / (n + 0.5)), as Milvus' BM25 function has it: FTS5's
ln((N - n + 0.5) / (n + 0.5)), floored near 0, gave a word in over half the passages (排放, 交易)
no weight at all, and hybrid hit@1 on tests/data/retrieval_questions.yaml was 0.848 against
0.879 now (the policy dev set and the CMRC sample answered the same). Tokens are FTS5's
unicode61 ones (13.5% → 13, 5, counted as parts rather than as a phrase). The terms themselves
stay in the FTS5 table, the source these files are built from.

An index is a base and append-only segments (qa.segments). Each part's file keeps raw term
frequencies and passage lengths, not weights: N, the average length and each term's document
frequency are taken over the live passages of all parts together, so that scores are those of
one merged index.
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
FIELDS = ("ids", "terms", "offsets", "positions", "tf", "lengths")


def fts_tokens(terms: list[str] | str) -> list[str]:
    text = terms if isinstance(terms, str) else " ".join(terms)
    return _TOKEN.findall(text)


@dataclass
class Postings:
    """The postings of one part (the base or a segment), as saved."""

    ids: np.ndarray  # passage ids, ascending; a posting's passage is a position in this array
    terms: np.ndarray  # the part's vocabulary; postings of terms[t] are offsets[t]:offsets[t + 1]
    offsets: np.ndarray
    positions: np.ndarray
    tf: np.ndarray  # occurrences of the term in the passage, per posting
    lengths: np.ndarray  # terms per passage
    vocabulary: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.vocabulary = {term: i for i, term in enumerate(self.terms.tolist())}

    def __len__(self) -> int:
        return len(self.ids)


class LexicalIndex:
    """BM25 over parts, each with a mask of its live passages (None: all live)."""

    def __init__(self, parts: list[Postings], alive: list[np.ndarray] | None = None) -> None:
        alive = alive or [np.ones(len(part), dtype=bool) for part in parts]
        count = int(sum(int(a.sum()) for a in alive))
        total = sum(int(part.lengths[a].sum()) for part, a in zip(parts, alive))
        average = max(total / count, 1e-9) if count else 1.0
        vocabulary: dict[str, int] = {}
        local = [
            np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in part.vocabulary),
                        dtype=np.int64, count=len(part.vocabulary))
            for part in parts
        ]  # fmt: skip
        df = np.zeros(len(vocabulary), dtype=np.int64)
        expanded = []
        for part, a, to_global in zip(parts, alive, local):
            term_of = np.repeat(np.arange(len(part.terms)), np.diff(part.offsets))
            live = a[part.positions]
            df[to_global] += np.bincount(term_of[live], minlength=len(part.terms))
            expanded.append((term_of, live))
        idf = np.log1p((count - df + 0.5) / (df + 0.5))
        self._parts = []
        for part, to_global, (term_of, live) in zip(parts, local, expanded):
            norm = K1 * (1 - B + B * part.lengths[part.positions] / average)
            tf = part.tf.astype(np.float64)
            weights = (idf[to_global][term_of] * tf * (K1 + 1) / (tf + norm)).astype(np.float32)
            weights[~live] = 0.0
            self._parts.append((part, weights))
        self.ids = np.sort(np.concatenate([p.ids[a] for p, a in zip(parts, alive)] or [[]]))
        self.ids = self.ids.astype(np.int64)
        self._vocabulary = {t: i for t, i in vocabulary.items() if df[i] > 0}
        self._df = df

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vocabulary(self) -> dict[str, int]:
        """Term → its number; a term absent here occurs in no passage."""
        return self._vocabulary

    def passages_holding(self, term: str) -> int:
        """How many live passages hold the term (0 for a term none holds)."""
        i = self._vocabulary.get(term)
        return 0 if i is None else int(self._df[i])

    def search(self, terms: list[str], n: int, allowed_ids: np.ndarray | None = None):
        """[(passage id, BM25 score)] of the n best passages holding any of `terms`."""
        query = [t for t in dict.fromkeys(fts_tokens(terms)) if t in self._vocabulary]
        if not query or n <= 0:
            return []
        found_ids, found_scores = [], []
        for part, weights in self._parts:
            local = [part.vocabulary[t] for t in query if t in part.vocabulary]
            if not local:
                continue
            scores = np.zeros(len(part.ids), dtype=np.float32)
            for term in local:
                start, end = part.offsets[term], part.offsets[term + 1]
                scores[part.positions[start:end]] += weights[start:end]
            if allowed_ids is not None:
                at = np.searchsorted(part.ids, allowed_ids).clip(0, max(len(part.ids) - 1, 0))
                mask = np.zeros(len(part.ids), dtype=bool)
                mask[at[part.ids[at] == allowed_ids]] = True
                scores[~mask] = 0.0
            matching = np.flatnonzero(scores)
            if len(matching) > n:  # the n best; of equal scores, the lower ids
                threshold = -np.partition(-scores[matching], n - 1)[n - 1]
                tied = matching[scores[matching] == threshold]
                matching = matching[scores[matching] > threshold]
                matching = np.concatenate([matching, tied[: n - len(matching)]])
            found_ids.append(part.ids[matching])
            found_scores.append(scores[matching])
        if not found_ids:
            return []
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.lexsort((ids, -scores))[:n]
        return [(int(ids[i]), float(scores[i])) for i in order]


def postings(conn: sqlite3.Connection, ids: np.ndarray | None = None) -> Postings:
    """The postings of the FTS5 rows of this connection (only `ids`, ascending, when given)."""
    if ids is None:
        rows = conn.execute("SELECT rowid, terms FROM passage_terms ORDER BY rowid").fetchall()
    else:
        rows = []
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start : start + 500]]
            rows += conn.execute(
                f"SELECT rowid, terms FROM passage_terms WHERE rowid IN "
                f"({','.join('?' * len(batch))}) ORDER BY rowid",
                batch,
            ).fetchall()
    found = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
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
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, minlength=len(vocabulary)), out=offsets[1:])
    return Postings(
        ids=found,
        terms=np.array(list(vocabulary), dtype=str),
        offsets=offsets,
        positions=position.astype(np.int32),
        tf=np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16),
        lengths=lengths.astype(np.int32),
    )


def build(conn: sqlite3.Connection) -> LexicalIndex:
    """BM25 over every passage in the FTS5 table of this connection, as one part."""
    return LexicalIndex([postings(conn)])


def write_atomic(part: Postings, path: Path, fault: str | None = None) -> None:
    """Save one part's postings atomically (qa.vectors.write_file_atomically)."""

    def write(temp_name: str) -> None:
        with open(temp_name, "wb") as handle:  # a name would get ".npz" appended
            np.savez(handle, **{key: getattr(part, key) for key in FIELDS})

    write_file_atomically(path, write, fault=fault)


def load(path: Path, count: int | None = None, ids: np.ndarray | None = None) -> Postings:
    """Read a saved part and check it is sound, covers `count` passages and exactly `ids`
    (when given); IndexCorruptError otherwise."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "tf" not in data.files and "weights" in data.files:
                raise IndexCorruptError(
                    f"term file {path.name} has the format before segments; it is rebuilt from "
                    "the database until the next build saves it again"
                )
            part = Postings(**{key: data[key] for key in FIELDS})
    except FileNotFoundError:
        raise IndexCorruptError(f"term file {path.name} is missing") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise IndexCorruptError(f"term file {path.name} cannot be read ({error})") from None
    positions = part.positions
    if (
        (count is not None and len(part) != count)
        or len(part.offsets) != len(part.terms) + 1
        or part.offsets[-1] != len(positions)
        or len(part.tf) != len(positions)
        or len(part.lengths) != len(part)
        or (len(positions) and not 0 <= positions.min() <= positions.max() < len(part))
    ):
        raise IndexCorruptError(
            f"term file {path.name} covers {len(part)} passages or is inconsistent; the "
            f"metadata expects {count}"
        )
    if np.any(np.diff(part.ids) <= 0) or (ids is not None and not np.array_equal(part.ids, ids)):
        raise IndexCorruptError(f"term file {path.name} names other passages than the database")
    return part
