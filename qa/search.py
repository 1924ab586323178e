"""Hybrid retrieval: dense (FAISS) and lexical (BM25 over jieba terms), fused by z-score.

`retrieve()` is the one-call entry point; `Index` is for callers who hold the index open.
"""

from __future__ import annotations

import datetime as dt
import numbers
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.authority import Authority
from qa.embedding import Embedder, load_embedder
from qa.errors import ModelMismatchError
from qa.fusion import MODES, fuse
from qa.store_base import Filter, Store
from qa.stores import open_store, store_location
from qa.structure import Locator
from qa.text import MAX_QUERY_CHARS, has_substance, is_english, tokenize

CANDIDATES = 50  # per retriever, before fusion
MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class Republication:
    """Another document that carries the same paragraph (the same story on another portal)."""

    doc_id: str
    title: str
    source: str | None
    date: str | None
    paragraph: int


@dataclass(frozen=True)
class Passage:
    """One paragraph (or a window of a long one) of a document, with where it came from."""

    text: str
    doc_id: str
    title: str
    source: str | None
    date: str | None
    paragraph: int  # 1-based, counting every paragraph and heading of the document
    score: float
    paragraph_end: int = 0  # > paragraph when short fragments were joined to it
    heading: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    char_start: int = 0  # offsets into the cleaned document text
    char_end: int = 0
    passage_id: int = 0
    page: int | None = None  # PDFs: the page the paragraph starts on
    also_published_by: tuple[Republication, ...] = ()
    dense_score: float = 0.0  # cosine similarity to the query
    lexical_score: float = 0.0  # BM25; 0 when no query term occurs
    locator: Locator | None = None  # article/款/项 or outline section (qa.structure)
    authority: Authority | None = None  # level, status, effective date, relations

    @property
    def provision(self) -> str:
        """第二十二条第一款第（二）项, or the section heading; empty when the text has neither."""
        return self.locator.cite() if self.locator else ""

    @property
    def in_force(self) -> bool:
        return self.authority is None or self.authority.in_force

    @property
    def paragraphs(self) -> str:
        return (
            f"{self.paragraph}"
            if self.paragraph_end <= self.paragraph
            else f"{self.paragraph}–{self.paragraph_end}"
        )

    @property
    def citation(self) -> str:
        """《title》第二十二条第一款第（二）项, date, paragraph N — the form readers cite; the
        paragraph number is a secondary anchor."""
        parts = [f"《{self.title}》{self.provision}"]
        if self.date:
            parts.append(self.date)
        if self.page:
            parts.append(f"第{self.page}页")
        parts.append(f"第{self.paragraphs}段")
        return "，".join(parts)


def check_k(k: object) -> int:
    """k as an int: Python and numpy integers are accepted; anything else is a ValueError."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    return int(k)


def _validate(query: object, k: object) -> int:
    if not isinstance(query, str):
        raise ValueError(f"query must be a string, not {type(query).__name__}")
    return check_k(k)


def _as_date(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date or an ISO date string like 2024-05-01, not {value!r}")


def make_filter(docs: Iterable[str] | None, date_from: object, date_to: object,
                in_force: bool = False, include_undated: bool = False) -> Filter:  # fmt: skip
    if isinstance(docs, str):
        docs = [docs]
    if docs is not None:
        if not isinstance(docs, Iterable) or not all(isinstance(d, str) for d in docs):
            raise ValueError(f"docs must be a list of document ids, not {docs!r}")
        docs = tuple(docs)
    return Filter(
        docs=docs,
        date_from=_as_date(date_from, "date_from"),
        date_to=_as_date(date_to, "date_to"),
        in_force=bool(in_force),
        include_undated=bool(include_undated),
    )


class Index:
    """An opened index: the local folder, or a Milvus store (`store` URI or QA_STORE).
    Searches see each committed update as soon as it lands."""

    def __init__(
        self, index_dir: str | Path | None = None, *, embedder: Embedder | None = None,
        store: str | None = None,
    ) -> None:  # fmt: skip
        from qa.build import default_index_dir

        self.index_dir = Path(index_dir) if index_dir else default_index_dir()
        self.store_uri = store_location(store)
        self._store: Store = open_store(self.index_dir, self.store_uri)
        self.embedder = embedder or load_embedder(self._store.model_id)
        if (self.embedder.model_id, self.embedder.dim) != (self._store.model_id, self._store.dim):
            raise ModelMismatchError(
                f"index at {self.location} was built with {self._store.model_id} (dimension "
                f"{self._store.dim}), but the embedder is {self.embedder.model_id} (dimension "
                f"{self.embedder.dim}); rebuild with `python index_build.py --rebuild --model ...`"
            )
        self._lock = threading.RLock()  # one SQLite connection, shared by the app's threads

    @property
    def location(self) -> str:
        return self.store_uri or str(self.index_dir)

    @property
    def _reader(self):
        """The local index folder's reader (the document viewer reads the record there)."""
        from qa.store import Reader

        if isinstance(self._store, Reader):
            return self._store
        if getattr(self, "_record", None) is None:
            self._record = Reader(self.index_dir)
        return self._record

    @property
    def model_id(self) -> str:
        return self._store.model_id

    @property
    def dim(self) -> int:
        return self._store.dim

    @property
    def size(self) -> int:
        with self._lock:
            self._store.refresh()
            return self._store.count()

    def documents(self) -> list[dict]:
        """The indexed documents, newest first: doc_id, title, date, source, issuer, passages."""
        with self._lock:
            self._store.refresh()
            return [dict(row) for row in self._store.documents()]

    def search(self, query: str, k: int = 5, *, docs: Iterable[str] | None = None,
               date_from: object = None, date_to: object = None, in_force: bool = False,
               mode: str = "hybrid") -> list[Passage]:  # fmt: skip
        """The k passages that best match `query`, best first. Empty for a query with no words.

        `in_force` keeps only documents in force (现行有效). `mode` is "hybrid" (default),
        "dense" or "lexical", for comparisons. A hybrid search of an English query is made with
        its Chinese gloss ("crosslingual").
        """
        k = _validate(query, k)
        where = make_filter(docs, date_from, date_to, in_force)
        query = query.strip()[:MAX_QUERY_CHARS]
        if not has_substance(query):
            return []
        vector = self.embedder.embed_queries([query])[0]
        terms = tokenize(query)[:MAX_QUERY_TERMS]
        if mode == "hybrid" and is_english(query):
            # English over Chinese texts: searched by its Chinese gloss too, as answer() does.
            from qa import crosslingual

            english = crosslingual.english_query(query, self.library_words)
            if english.gloss:
                vector = english.vector(vector, self.embedder)
                terms, mode = english.terms[:MAX_QUERY_TERMS], "crosslingual"
        return self.search_vector(vector, k, terms=terms, where=where, mode=mode)

    def search_vector(self, vector: np.ndarray, k: int = 5, *, terms: list[str] | None = None,
                      where: Filter | None = None, mode: str = "hybrid") -> list[Passage]:  # fmt: skip
        """Search with a precomputed query vector (and optional lexical terms)."""
        k = check_k(k)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(
                f"query vector has dimension {vector.shape[0]}, the index expects {self.dim}"
            )
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        where = where or Filter()
        n = max(CANDIDATES, 3 * k)
        with self._lock:
            store = self._store
            store.refresh()
            dense_ids, dense_scores = store.dense(vector, n, where)
            lexical = store.lexical(terms or [], n, where)
            ranked = fuse(store, vector, dense_ids, dense_scores, lexical, MODES[mode])[:k]
            rows = store.fetch([pid for pid, *_ in ranked])
            copies = store.republications([pid for pid, *_ in ranked])
            authorities = store.authorities()
        return [
            _passage(rows[pid], score, dense, lex, copies.get(pid, ()), authorities)
            for pid, score, dense, lex in ranked
            if pid in rows
        ]

    def _rows(self, fetch) -> list[Passage]:
        """Passages (unscored) of the rows `fetch(reader)` returns, on the current generation."""
        with self._lock:
            self._store.refresh()
            rows = fetch(self._store)
            copies = self._store.republications([row["id"] for row in rows])
            authorities = self._store.authorities()
        return [_passage(r, 0.0, 0.0, 0.0, copies.get(r["id"], ()), authorities) for r in rows]

    def following(self, passage: Passage, limit: int = 8) -> list[Passage]:
        """The passages that come after `passage` in its document (e.g. the items of a list)."""
        return self._rows(lambda r: r.following(passage.doc_id, passage.paragraph_end, limit))

    def document_passages(self, doc_id: str, limit: int) -> list[Passage]:
        """The first `limit` passages of a document, in reading order."""
        return self._rows(lambda r: r.following(doc_id, 0, limit))

    def provision(self, doc_id: str, article: str) -> list[Passage]:
        """The passages of one article of a document (第二十二条), in reading order."""
        return self._rows(lambda r: r.provision(doc_id, article))

    def section(self, doc_id: str, section: str, limit: int = 40) -> list[Passage]:
        """The passages under an outline heading of a document, in reading order."""
        return self._rows(lambda r: r.section(doc_id, section, limit))

    def sections(self) -> list[tuple[str, str]]:
        """(doc_id, section path) of every outline section in the library."""
        with self._lock:
            self._store.refresh()
            return self._store.sections()

    def titles(self, where: Filter | None = None) -> list[dict]:
        """[{doc_id, title}] of the documents a search with `where` may return."""
        with self._lock:
            self._store.refresh()
            rows = self._store.titles()
            hidden = {d for d, a in self._store.authorities().items() if not a.in_force}
        if where is not None and where.docs is not None:
            rows = [r for r in rows if r["doc_id"] in where.docs]
        if where is not None and where.in_force:
            rows = [r for r in rows if r["doc_id"] not in hidden]
        return rows

    def unknown_terms(self, terms: Iterable[str]) -> list[str]:
        """The terms no passage of the library holds (as lexical words)."""
        terms = list(terms)
        counts = self.passage_counts(terms, 1)
        return [t for t in terms if counts.get(t) == 0]

    def library_words(self, words: set[str]) -> set[str]:
        """The words the library uses: every jieba piece of the word is in its vocabulary
        (温室气体 as 温室 + 气体), none is a stopword only (中)."""
        pieces = {w: tokenize(w) for w in words}
        unknown = set(self.unknown_terms(sorted({x for p in pieces.values() for x in p})))
        return {w for w, p in pieces.items() if p and not unknown.intersection(p)}

    def passage_counts(self, terms: Iterable[str], cap: int) -> dict[str, int]:
        """How many passages hold each term (all of its index tokens), counted up to `cap`: 风险基金
        in 1, 碳税 in 0, 企业 in `cap` or more. How specific a thing a question names. A term is
        cut as the index cuts text: 碳排放 is held as 碳 + 排放, never as one token."""
        from qa.lexical import fts_tokens

        pieces = {t: fts_tokens(tokenize(t)) for t in terms}
        with self._lock:
            self._store.refresh()
            counts = self._store.term_counts(sorted({x for p in pieces.values() for x in p}), cap)
        return {t: min(counts[x] for x in p) for t, p in pieces.items() if p}

    def with_article(self, article: str) -> list[str]:
        """Ids of the documents that have this article (第二十二条)."""
        with self._lock:
            self._store.refresh()
            return self._store.with_article(article)

    def authorities(self) -> dict[str, Authority]:
        """Level, status, effective date and relations of every document, by doc id."""
        with self._lock:
            self._store.refresh()
            return dict(self._store.authorities())

    def close(self) -> None:
        self._store.close()
        if getattr(self, "_record", None) is not None:
            self._record.close()


def _passage(row, score: float, dense: float, lexical: float, copies=(),
             authorities: dict | None = None) -> Passage:  # fmt: skip
    return Passage(
        text=row["text"], doc_id=row["doc_id"], title=row["title"], source=row["source"],
        date=row["date"], paragraph=row["paragraph"], score=score,
        paragraph_end=row["paragraph_end"], heading=row["heading"], issuer=row["issuer"],
        doc_number=row["doc_number"], char_start=row["char_start"], char_end=row["char_end"],
        passage_id=row["id"], page=row["page"], dense_score=dense, lexical_score=lexical,
        also_published_by=tuple(Republication(c["doc_id"], c["title"], c["source"], c["date"],
                                              c["paragraph"]) for c in copies),
        locator=Locator.from_json(row["locator"]),
        authority=(authorities or {}).get(row["doc_id"]),
    )  # fmt: skip


_open: dict[tuple[Path, str | None], Index] = {}
_open_lock = threading.Lock()


def open_index(index_dir: str | Path | None = None) -> Index:
    """The process-wide Index for a folder (and the store QA_STORE names), opened on first use
    and reused after."""
    from qa.build import default_index_dir

    key = (Path(index_dir or default_index_dir()).resolve(), store_location())
    with _open_lock:
        if key not in _open:
            _open[key] = Index(key[0], store=key[1])
        return _open[key]


def retrieve(query: str, k: int = 5, *, index_dir: str | Path | None = None,
             docs: Iterable[str] | None = None, date_from: object = None,
             date_to: object = None, in_force: bool = False) -> list[Passage]:  # fmt: skip
    """The k best passages for `query` from the index at `index_dir` (default: QA_INDEX_DIR or .index/).

    >>> from qa import retrieve
    >>> for p in retrieve("甲烷排放控制有哪些安排", k=3):
    ...     print(p.citation, p.text[:40])
    """
    k = _validate(query, k)
    return open_index(index_dir).search(query, k, docs=docs, date_from=date_from,
                                        date_to=date_to, in_force=in_force)  # fmt: skip
