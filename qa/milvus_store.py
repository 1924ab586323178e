"""The Milvus store: one collection of passages per index, behind the alias the URI names.

    milvus:///path/to/file.db[?collection=NAME]   Milvus Lite, embedded (a local file)
    http://host:19530[?collection=NAME]           a Milvus standalone or cluster (MILVUS_TOKEN)

A passage row holds its content key (doc_id + passage hash), doc_id, date, status, its place
(paragraph, article, section), the display text, the text Milvus' BM25 function indexes with the
jieba analyzer, our own lexical tokens (whitespace analyzer, for vocabulary checks), the 384-d
vector and a JSON of what citations need. Documents (title, issuer, authority…) live in a second,
small collection. The passage collection's properties carry the manifest (format, model, dimension,
generation, the documents collection), checked on open. Fusion stays ours (qa.search); the store
only answers the dense and BM25 top-n with the filter pushed down as a boolean expression.

The write side is qa.milvus_sync; SQLite (the local index) stays the record it is synced from.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from dataclasses import dataclass

import numpy as np

from qa import authority
from qa.authority import IN_FORCE, Authority
from qa.errors import (
    IndexCorruptError,
    IndexMissingError,
    ModelMismatchError,
    QAError,
    guard_public,
)
from qa.store_base import Filter

FORMAT = 1
DEFAULT_COLLECTION = "policy_qa"
MANIFEST_KEY = "qa.manifest"
TOKEN_ENV = "MILVUS_TOKEN"
MAX_SCAN = 16384  # rows one query may return (Milvus' own cap on offset + limit)
ROW_FIELDS = ["key", "doc_id", "date", "paragraph", "paragraph_end", "seq", "article",
              "section", "text", "meta"]  # fmt: skip


@dataclass(frozen=True)
class Location:
    """Where a Milvus index lives: the client URI and the alias of its passage collection."""

    uri: str
    collection: str
    lite: bool

    @property
    def label(self) -> str:
        return f"{self.uri} (collection {self.collection})"


def parse_uri(store: str) -> Location:
    parts = urllib.parse.urlsplit(store)
    query = urllib.parse.parse_qs(parts.query)
    collection = (query.get("collection") or [DEFAULT_COLLECTION])[0]
    if not collection.replace("_", "").isalnum() or not collection[0].isalpha():
        raise ValueError(
            f"collection {collection!r} in {store!r}: use letters, digits and _, starting "
            "with a letter"
        )
    if parts.scheme == "milvus":
        path = urllib.parse.unquote(parts.netloc + parts.path)
        if not path.endswith(".db"):
            raise ValueError(
                f"{store!r}: a Milvus Lite file name ends in .db (milvus:///path/x.db)"
            )
        return Location(os.path.abspath(path), collection, lite=True)
    return Location(urllib.parse.urlunsplit(parts._replace(query="")), collection, lite=False)


def connect(location: Location):
    """A MilvusClient, or a QAError that says how to install or reach Milvus."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise QAError(
            "the Milvus store needs pymilvus (and milvus-lite for milvus:// files): "
            "pip install -e '.[milvus]'"
        ) from None
    if location.lite:
        # Milvus Lite's in-process server lacks the timestamp call pymilvus' query iterator
        # tries first (and then does without): its error logs are noise, not failures.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        logging.getLogger("pymilvus.client.iterator").setLevel(logging.ERROR)
    try:
        return MilvusClient(location.uri, token=os.environ.get(TOKEN_ENV, ""))
    except Exception as error:  # pymilvus raises its own types; the caller needs one QAError
        raise QAError(f"cannot reach Milvus at {location.uri}: {error}") from error


def filter_expression(where: Filter | None) -> str:
    """`where` as a Milvus boolean expression ("" for no filter)."""
    if where is None:
        return ""
    clauses = []
    if where.in_force:
        clauses.append(f"status == {_quote(IN_FORCE)}")
    if where.docs is not None:
        clauses.append(f"doc_id in {json.dumps(list(where.docs), ensure_ascii=False)}")
    for op, value in ((">=", where.date_from), ("<=", where.date_to)):
        if value:
            undated = ' or date == ""' if where.include_undated else ' and date != ""'
            clauses.append(f"(date {op} {json.dumps(value)}{undated})")
    return " and ".join(clauses)


def read_manifest(client, location: Location) -> dict:
    """The manifest of the collection behind the alias; IndexMissing/CorruptError otherwise."""
    try:  # one call per question when the store is there (refresh runs before each search)
        description = client.describe_collection(location.collection)
    except Exception:
        if client.has_collection(location.collection):
            raise
        raise IndexMissingError(
            f"no index in {location.label}: copy one in with `python index_build.py "
            f"--export-to '{_store_arg(location)}'`"
        ) from None
    try:
        manifest = json.loads(description.get("properties", {})[MANIFEST_KEY])
        if manifest["format"] != FORMAT or int(manifest["dim"]) <= 0:
            raise IndexCorruptError(
                f"index in {location.label} has format {manifest['format']}, this version "
                f"reads {FORMAT}; export it again with `python index_build.py --export-to "
                f"'{_store_arg(location)}'`"
            )
        manifest["collection"] = description["collection_name"]
        return manifest
    except (KeyError, TypeError, ValueError) as error:
        raise IndexCorruptError(
            f"index in {location.label} has no readable manifest ({error!r}): export it again "
            f"with `python index_build.py --export-to '{_store_arg(location)}'`"
        ) from None


def query_all(client, collection: str, expression: str, fields: list[str]) -> list[dict]:
    """Every row `expression` selects, in batches (a plain query stops at MAX_SCAN rows)."""
    rows, iterator = (
        [],
        client.query_iterator(collection, batch_size=1000, filter=expression, output_fields=fields),
    )
    while batch := iterator.next():
        rows.extend(batch)
    iterator.close()
    return rows


def _store_arg(location: Location) -> str:
    scheme = f"milvus://{location.uri}" if location.lite else location.uri
    if location.collection != DEFAULT_COLLECTION:
        scheme += f"?collection={location.collection}"
    return scheme


try:
    from pymilvus.exceptions import MilvusException

    _FAILURES: tuple[type[BaseException], ...] = (MilvusException, ConnectionError)
except ImportError:  # connect() says how to install it
    _FAILURES = (ConnectionError,)


def _failed(store: MilvusStore, error: BaseException) -> QAError:
    """Milvus' own errors (a dropped connection, a collection gone) as a QAError naming the
    store, as the local index turns damage into QAErrors."""
    return QAError(f"the Milvus store {store.location.label} failed: {error}")


class MilvusStore:
    """The Store interface (qa.store_base) over a Milvus collection."""

    def __init__(self, store: str) -> None:
        self.location = parse_uri(store)
        self.client = connect(self.location)
        self._state: tuple[str, int] | None = None
        self.refresh()

    def refresh(self) -> bool:
        manifest = read_manifest(self.client, self.location)
        state = (manifest["collection"], int(manifest["generation"]))
        if state == self._state:
            return False
        model = (manifest["model_id"], int(manifest["dim"]))
        if self._state is not None and model != (self.model_id, self.dim):
            raise ModelMismatchError(
                f"the store {self.location.label} was replaced by one built with {model[0]} "
                f"(dimension {model[1]}), but this process embeds with {self.model_id} "
                f"(dimension {self.dim}): open it again (restart the app)"
            )
        self.model_id, self.dim = model
        self._passages, self._docs_name = manifest["collection"], manifest["documents"]
        self._count = int(manifest["passages"])
        for name in (self._passages, self._docs_name):  # a new process finds them released
            self.client.load_collection(name)
        self._docs = {
            r["doc_id"]: r["meta"]
            for r in query_all(self.client, self._docs_name, 'doc_id != ""', ["doc_id", "meta"])
        }
        self._authorities = authority.resolve(
            {
                d: (m["title"], Authority.from_json(m.get("authority")))
                for d, m in self._docs.items()
            }
        )
        self._sections = None
        self._state = state
        return True

    def count(self) -> int:
        return self._count

    def dense(self, vector: np.ndarray, n: int, where: Filter | None = None):
        hits = self.client.search(
            self._passages, data=[np.asarray(vector, dtype=np.float32).tolist()],
            anns_field="vector", limit=n, filter=filter_expression(where),
            search_params={"metric_type": "IP"},
        )[0]  # fmt: skip
        return [h["key"] if "key" in h else h["id"] for h in hits], np.array(
            [h["distance"] for h in hits], dtype=np.float32
        )

    def lexical(self, terms: list[str], n: int, where: Filter | None = None):
        text = " ".join(terms).strip()
        if not text:
            return []
        hits = self.client.search(
            self._passages, data=[text], anns_field="sparse", limit=n,
            filter=filter_expression(where), search_params={"metric_type": "BM25"},
        )[0]  # fmt: skip
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score.
        return [(h["key"] if "key" in h else h["id"], abs(float(h["distance"]))) for h in hits]

    def vectors(self, ids: list) -> np.ndarray:
        found = {r["key"]: r["vector"] for r in self._get(ids, ["vector"])}
        return np.array([found[i] for i in ids], dtype=np.float32).reshape(len(ids), self.dim)

    def _get(self, ids: list, fields: list[str]) -> list[dict]:
        if not ids:
            return []
        return list(self.client.get(self._passages, ids=list(ids), output_fields=fields))

    def _row(self, found: dict) -> dict:
        meta, doc = found["meta"], self._docs.get(found["doc_id"], {})
        return {
            "id": found["key"], "doc_id": found["doc_id"], "paragraph": found["paragraph"],
            "paragraph_end": found["paragraph_end"], "heading": meta.get("heading"),
            "text": found["text"], "char_start": meta.get("char_start", 0),
            "char_end": meta.get("char_end", 0), "page": meta.get("page"),
            "locator": meta.get("locator"), "article": found["article"] or None,
            "section": found["section"] or None, "title": doc.get("title", found["doc_id"]),
            "date": doc.get("date"), "source": doc.get("source"), "issuer": doc.get("issuer"),
            "doc_number": doc.get("doc_number"), "path": doc.get("path"),
            "_seq": found["seq"], "_copies": meta.get("copies", []),
        }  # fmt: skip

    def fetch(self, ids: list) -> dict:
        return {r["key"]: self._row(r) for r in self._get(ids, ROW_FIELDS)}

    def republications(self, ids: list) -> dict:
        found: dict = {}
        for row in self._get(ids, ["key", "meta"]):
            for copy in row["meta"].get("copies", []):
                doc = self._docs.get(copy["doc_id"], {})
                found.setdefault(row["key"], []).append({
                    "doc_id": copy["doc_id"], "paragraph": copy["paragraph"],
                    "title": doc.get("title", copy["doc_id"]), "source": doc.get("source"),
                    "date": doc.get("date"),
                })  # fmt: skip
        for copies in found.values():
            copies.sort(key=lambda c: (c["date"] or "", c["title"]))
        return found

    def _rows(self, expression: str, limit: int = MAX_SCAN) -> list[dict]:
        found = self.client.query(self._passages, filter=expression, output_fields=ROW_FIELDS,
                                  limit=MAX_SCAN)  # fmt: skip
        rows = sorted((self._row(r) for r in found), key=lambda r: (r["paragraph"], r["_seq"]))
        return rows[:limit]

    def following(self, doc_id: str, paragraph: int, limit: int) -> list[dict]:
        return self._rows(f"doc_id == {_quote(doc_id)} and paragraph > {int(paragraph)}", limit)

    def provision(self, doc_id: str, article: str) -> list[dict]:
        return self._rows(f"doc_id == {_quote(doc_id)} and article == {_quote(article)}")

    def section(self, doc_id: str, section: str, limit: int = 40) -> list[dict]:
        prefix = _quote(section.replace("%", "") + " › %")
        expression = f"doc_id == {_quote(doc_id)} and (section == {_quote(section)} or section like {prefix})"
        return self._rows(expression, int(limit))

    def sections(self, doc_ids: list[str] | None = None) -> list[tuple[str, str]]:
        if self._sections is None:  # a scan of every sectioned passage, once per generation
            rows = query_all(self.client, self._passages, 'section != ""', ["doc_id", "section"])
            self._sections = sorted({(r["doc_id"], r["section"]) for r in rows})
        return [p for p in self._sections if doc_ids is None or p[0] in doc_ids]

    def titles(self) -> list[dict]:
        return [{"doc_id": d, "title": m["title"]} for d, m in self._docs.items()]

    def with_article(self, article: str) -> list[str]:
        rows = self.client.query(self._passages, filter=f"article == {_quote(article)}",
                                 output_fields=["doc_id"], limit=MAX_SCAN)  # fmt: skip
        return sorted({r["doc_id"] for r in rows})

    def documents(self) -> list[dict]:
        rows = [{"doc_id": d, **{k: m.get(k) for k in ("title", "date", "source", "issuer",
                "path", "passages")}} for d, m in self._docs.items()]  # fmt: skip
        rows.sort(key=lambda r: r["title"])
        rows.sort(key=lambda r: r["date"] or "", reverse=True)
        return rows

    def authorities(self) -> dict[str, Authority]:
        return self._authorities

    def term_counts(self, tokens: list[str], cap: int) -> dict[str, int]:
        return {
            token: len(self.client.query(self._passages,
                                         filter=f"TEXT_MATCH(terms, {_quote(token)})",
                                         output_fields=["key"], limit=cap))
            for token in tokens
        }  # fmt: skip

    def close(self) -> None:
        self.client.close()


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


guard_public(MilvusStore, _FAILURES, _failed)
