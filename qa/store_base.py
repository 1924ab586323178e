"""The store interface `qa.search` talks to, and the filter it takes.

Two implementations: the local index folder (qa.store.Reader: SQLite + FAISS + BM25 postings,
the default) and Milvus (qa.milvus_store, `pip install -e '.[milvus]'`); qa.stores picks one.
Rows are mappings with the columns of PASSAGE_FIELDS; passage ids are opaque (SQLite row ids
locally, content keys in Milvus) and only passed back to the same store.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qa.authority import Authority

PASSAGE_FIELDS = (
    "id", "doc_id", "paragraph", "paragraph_end", "heading", "text", "char_start", "char_end",
    "page", "locator", "article", "section", "title", "date", "source", "issuer", "doc_number",
    "path",
)  # fmt: skip

Row = Mapping[str, object]
PassageId = Hashable


@dataclass(frozen=True)
class Filter:
    """Restricts a search to some documents and/or a date range (ISO dates, inclusive)."""

    docs: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    in_force: bool = False  # only documents in force (现行有效); the store knows which
    include_undated: bool = False  # with a date range: keep documents that have no date

    def admits(self, passage) -> bool:
        """Whether a passage (qa.search.Passage) passes: exact look-ups go around the search
        and must still respect its filters."""
        date = passage.date or ""
        undated_ok = not date and self.include_undated
        return (
            (self.docs is None or passage.doc_id in self.docs)
            and (not self.date_from or undated_ok or date >= self.date_from)
            and (not self.date_to or undated_ok or (bool(date) and date <= self.date_to))
            and (not self.in_force or passage.in_force)
        )

    def sql(self, not_in_force: tuple[str, ...] = ()) -> tuple[str, list]:
        clauses, args = [], []
        if self.in_force and not_in_force:
            clauses.append(f"d.doc_id NOT IN ({','.join('?' * len(not_in_force))})")
            args.extend(not_in_force)
        if self.docs is not None:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(self.docs))})")
            args.extend(self.docs)
        undated = " OR d.date IS NULL OR d.date = ''" if self.include_undated else ""
        if self.date_from:
            clauses.append(f"(d.date >= ?{undated})")
            args.append(self.date_from)
        if self.date_to:
            clauses.append(f"(d.date <= ?{undated})")
            args.append(self.date_to)
        return " AND ".join(clauses) or "1", args

    @property
    def active(self) -> bool:
        return self.docs is not None or bool(self.date_from or self.date_to) or self.in_force


class Store(Protocol):
    """What search and the answer layer need from an index, local or distributed."""

    model_id: str
    dim: int

    def refresh(self) -> bool:
        """Follow the latest committed state; True when it changed."""

    def count(self) -> int:
        """Passages searchable now."""

    def dense(self, vector: np.ndarray, n: int, where: Filter | None = None
              ) -> tuple[list[PassageId], np.ndarray]:  # fmt: skip
        """(ids, cosines) of the n passages nearest `vector` that pass `where`."""

    def lexical(self, terms: list[str], n: int, where: Filter | None = None
                ) -> list[tuple[PassageId, float]]:  # fmt: skip
        """[(id, BM25 score)] best first, of the passages that pass `where`."""

    def vectors(self, ids: list[PassageId]) -> np.ndarray:
        """The stored vectors of these passages, one row each, in order."""

    def fetch(self, ids: list[PassageId]) -> dict[PassageId, Row]:
        """The rows (PASSAGE_FIELDS) of these passages; unknown ids are left out."""

    def republications(self, ids: list[PassageId]) -> dict[PassageId, list[Row]]:
        """For each passage id, the other documents that carry the same paragraph."""

    def following(self, doc_id: str, paragraph: int, limit: int) -> list[Row]:
        """The passages after `paragraph` in a document, in reading order."""

    def provision(self, doc_id: str, article: str) -> list[Row]:
        """The passages of one article (第二十二条) of a document, in reading order."""

    def section(self, doc_id: str, section: str, limit: int = 40) -> list[Row]:
        """The passages under an outline heading and its sub-headings, in reading order."""

    def sections(self, doc_ids: list[str] | None = None) -> list[tuple[str, str]]:
        """(doc_id, section) pairs of the library's outline headings."""

    def titles(self) -> list[dict]:
        """[{doc_id, title}] of every document."""

    def with_article(self, article: str) -> list[str]:
        """Ids of the documents that have this article."""

    def documents(self) -> list[Row]:
        """doc_id, title, date, source, issuer, path, passages of each document, newest first."""

    def authorities(self) -> dict[str, Authority]:
        """Each document's authority, with the library's relations resolved."""

    def term_counts(self, tokens: list[str], cap: int) -> dict[str, int]:
        """How many passages hold each lexical token, counted up to `cap`."""

    def close(self) -> None: ...
