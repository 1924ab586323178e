"""Copy a local index into Milvus: an incremental sync by content key, or a full export that
writes new collections and swaps the alias.

The local index (SQLite) stays the record: vectors are copied from it, never re-embedded. A
passage's key is `doc_id#<content hash>` (a suffix tells repeated paragraphs of one document
apart), so a retried sync upserts the same rows. Each row carries a fingerprint of everything
stored with it; a sync writes only rows whose fingerprint changed (an edited paragraph, a
document that a newer one now repeals) and deletes the keys no longer in the record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.authority import IN_FORCE
from qa.errors import IndexMissingError, ModelMismatchError, QAError
from qa.integrity import parse_manifest
from qa.lexical import fts_tokens
from qa.milvus_store import (
    FORMAT,
    MANIFEST_KEY,
    Location,
    connect,
    parse_uri,
    query_all,
    read_manifest,
)
from qa.store import DB_NAME, check_format, library_authorities, read_meta
from qa.store import connect as connect_local
from qa.text import embedding_input

BATCH = 256
MAX_VARCHAR = 65535  # bytes, Milvus' limit for one VARCHAR value
DOCS_DIM = 2  # Milvus wants a vector field in every collection; documents have none of their own


@dataclass(frozen=True)
class SyncReport:
    store: str
    collection: str
    written: int
    deleted: int
    unchanged: int
    documents: int
    replaced: bool  # a new collection was written and the alias swapped to it
    seconds: float

    def summary(self) -> str:
        how = "exported into a new collection" if self.replaced else "synced"
        return (
            f"{how} {self.store}: {self.written} passages written, {self.deleted} deleted, "
            f"{self.unchanged} unchanged, {self.documents} documents ({self.seconds:.1f} s)"
        )


def _schema(client, dim: int, lite: bool):
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("date", DataType.VARCHAR, max_length=32)
    schema.add_field("status", DataType.VARCHAR, max_length=32)  # 现行有效, 已废止, 已被修改
    for name in ("paragraph", "paragraph_end", "seq"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("article", DataType.VARCHAR, max_length=256)
    schema.add_field("section", DataType.VARCHAR, max_length=4096)
    schema.add_field("fp", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("search_text", DataType.VARCHAR, max_length=MAX_VARCHAR,
                     enable_analyzer=True, analyzer_params={"tokenizer": "jieba"})  # fmt: skip
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                     enable_match=True, analyzer_params={"tokenizer": "whitespace"})  # fmt: skip
    schema.add_field("meta", DataType.JSON)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["search_text"],
                                 output_field_names=["sparse"]))  # fmt: skip
    params = client.prepare_index_params()
    # Exact search in Milvus Lite (a development engine); the server picks its own ANN index.
    params.add_index("vector", index_type="FLAT" if lite else "AUTOINDEX", metric_type="IP")
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return schema, params


def _create(client, location: Location, name: str, dim: int) -> None:
    from pymilvus import DataType

    schema, params = _schema(client, dim, location.lite)
    client.create_collection(name, schema=schema, index_params=params)
    docs = client.create_schema(auto_id=False, enable_dynamic_field=False)
    docs.add_field("doc_id", DataType.VARCHAR, is_primary=True, max_length=1024)
    docs.add_field("meta", DataType.JSON)
    docs.add_field("vector", DataType.FLOAT_VECTOR, dim=DOCS_DIM)
    docs_params = client.prepare_index_params()
    docs_params.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name + "_docs", schema=docs, index_params=docs_params)


_PASSAGES = (
    "SELECT p.id, p.doc_id, p.seq, p.paragraph, p.paragraph_end, p.heading, p.text, "
    "p.char_start, p.char_end, p.page, p.locator, p.article, p.section, p.content_hash, p.hash, "
    "d.title, d.date, t.terms{vector} FROM passages p JOIN documents d USING (doc_id) "
    "JOIN passage_terms t ON t.rowid = p.id"
)


class _Record:
    """One read snapshot of the local index: what the store should hold."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.authorities = library_authorities(conn)
        self.copies: dict[int, list] = {}
        for row in conn.execute("SELECT original_id, doc_id, paragraph FROM duplicates"):
            self.copies.setdefault(row[0], []).append({"doc_id": row[1], "paragraph": row[2]})

    def fingerprints(self) -> tuple[dict[str, str], dict[str, int]]:
        """key → fingerprint and key → passage id of every passage (no texts kept: the rows to
        write are read again by id, so a sync of a large index holds little in memory)."""
        fingerprints: dict[str, str] = {}
        ids: dict[str, int] = {}
        query = _PASSAGES.format(vector="") + " ORDER BY p.doc_id, p.seq"
        for r in self.conn.execute(query):
            base = key = f"{r['doc_id']}#{r['content_hash'][:16]}"
            repeat = 1
            while key in ids:  # the same paragraph twice in one document
                repeat += 1
                key = f"{base}#{repeat}"
            fingerprints[key], ids[key] = _fingerprint(self.row(r, key)), r["id"]
        return fingerprints, ids

    def rows(self, keys: list[str], ids: dict[str, int]) -> list[dict]:
        """The rows of these keys, vectors included."""
        key_of = {ids[k]: k for k in keys}
        query = _PASSAGES.format(vector=", p.vector") + (
            f" WHERE p.id IN ({','.join('?' * len(key_of))})"
        )
        found = {}
        for r in self.conn.execute(query, list(key_of)):
            row = self.row(r, key_of[r["id"]])
            row["fp"] = _fingerprint(row)
            row["vector"] = np.frombuffer(r["vector"], dtype=np.float32).tolist()
            found[row["key"]] = row
        return [found[k] for k in keys]

    def row(self, r: sqlite3.Row, key: str) -> dict:
        if len(r["text"].encode()) > MAX_VARCHAR:
            raise QAError(
                f"passage {r['paragraph']} of {r['doc_id']} is over {MAX_VARCHAR} bytes, Milvus' "
                "limit for one text field: split the paragraph in the file and build again"
            )
        known = self.authorities.get(r["doc_id"])
        return {
            "key": key, "doc_id": r["doc_id"], "date": r["date"] or "",
            "status": known.status if known else IN_FORCE,
            "paragraph": r["paragraph"], "paragraph_end": r["paragraph_end"], "seq": r["seq"],
            "article": r["article"] or "", "section": r["section"] or "", "text": r["text"],
            "search_text": embedding_input(r["title"], r["heading"], r["text"])[:20000],
            "terms": " ".join(fts_tokens(r["terms"] or ""))[:20000],
            "meta": {"heading": r["heading"], "char_start": r["char_start"],
                     "char_end": r["char_end"], "page": r["page"], "locator": r["locator"],
                     "copies": self.copies.get(r["id"], []), "hash": r["hash"]},
        }  # fmt: skip

    def documents(self) -> dict[str, dict]:
        rows = self.conn.execute(
            "SELECT d.doc_id, d.title, d.date, d.source, d.issuer, d.path, d.doc_number, "
            "d.authority, count(p.id) AS passages FROM documents d "
            "LEFT JOIN passages p USING (doc_id) GROUP BY d.doc_id"
        )
        fields = (
            "title",
            "date",
            "source",
            "issuer",
            "path",
            "passages",
            "doc_number",
            "authority",
        )
        return {
            r["doc_id"]: {"doc_id": r["doc_id"], "meta": {f: r[f] for f in fields}} for r in rows
        }


def _fingerprint(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _batches(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(client, name: str, field: str, key: str) -> dict[str, object]:
    return {r[key]: r[field] for r in query_all(client, name, f'{key} != ""', [key, field])}


def sync(index_dir: str | Path, store: str, *, replace: bool = False,
         progress: Callable[[int, int], None] | None = None) -> SyncReport:  # fmt: skip
    """Bring the Milvus store at `store` in line with the local index at `index_dir`.

    `replace` (index_build.py --export-to, or a store of another model) writes new collections
    and swaps the alias to them when they are complete, so readers never see a half copy.
    """
    started = time.monotonic()
    location = parse_uri(store)
    index_dir = Path(index_dir)
    if not (index_dir / DB_NAME).is_file():
        raise IndexMissingError(
            f"no index at {index_dir} to copy into {store}: build one first with "
            f"`python index_build.py --index-dir {index_dir}`"
        )
    conn = connect_local(index_dir / DB_NAME, readonly=True)
    client = None
    try:
        manifest = parse_manifest(read_meta(conn), index_dir)
        check_format(manifest, index_dir)
        conn.execute("BEGIN")  # one snapshot of the record for the whole sync
        record = _Record(conn)
        client = connect(location)
        previous = None
        if client.has_collection(location.collection):
            previous = read_manifest(client, location)
            ours = (manifest.model_id, manifest.dim)
            if (previous["model_id"], int(previous["dim"])) != ours and not replace:
                raise ModelMismatchError(
                    f"the store {location.label} holds vectors of {previous['model_id']} "
                    f"(dimension {previous['dim']}), the index at {index_dir} "
                    f"{manifest.model_id} (dimension {manifest.dim}): replace it with "
                    f"`python index_build.py --index-dir {index_dir} --export-to '{store}'`"
                )
        replace = replace or previous is None
        generation = int(previous["generation"]) + 1 if previous else 1
        target = f"{location.collection}__g{generation}" if replace else previous["collection"]
        docs_name = target + "_docs"
        if replace:
            for name in (target, docs_name):  # left over from an interrupted export
                if client.has_collection(name):
                    client.drop_collection(name)
            _create(client, location, target, manifest.dim)
        else:
            for name in (target, docs_name):  # a new process finds them released
                client.load_collection(name)
        fingerprints, ids = record.fingerprints()
        held = {} if replace else _existing(client, target, "fp", "key")
        changed = [k for k, fp in fingerprints.items() if held.get(k) != fp]
        stale = [k for k in held if k not in fingerprints]
        for done, batch in enumerate(_batches(changed)):
            client.upsert(target, record.rows(batch, ids))
            if progress:
                progress(min((done + 1) * BATCH, len(changed)), len(changed))
        for batch in _batches(stale):
            client.delete(target, ids=batch)
        documents = record.documents()
        held_docs = {} if replace else _existing(client, docs_name, "meta", "doc_id")
        new_docs = [d for k, d in documents.items() if held_docs.get(k) != d["meta"]]
        for batch in _batches(new_docs):
            client.upsert(docs_name, [{**d, "vector": [0.0] * DOCS_DIM} for d in batch])
        gone_docs = [k for k in held_docs if k not in documents]
        for batch in _batches(gone_docs):
            client.delete(docs_name, ids=batch)
        written = {"format": FORMAT, "model_id": manifest.model_id, "dim": manifest.dim,
                   "generation": generation, "documents": docs_name, "passages": len(ids)}  # fmt: skip
        client.alter_collection_properties(target, properties={MANIFEST_KEY: json.dumps(written)})
        if replace:
            _swap_alias(client, location.collection, target, previous)
    except Exception as error:
        from pymilvus.exceptions import MilvusException

        if isinstance(error, MilvusException):
            raise QAError(
                f"syncing into the Milvus store {location.label} failed: {error}; "
                "the local index is unchanged, run the build again to retry"
            ) from error
        raise
    finally:
        conn.close()
        if client is not None:
            client.close()
    return SyncReport(store, target, len(changed), len(stale), len(ids) - len(changed),
                      len(documents), replace, time.monotonic() - started)  # fmt: skip


def _swap_alias(client, alias: str, target: str, previous: dict | None) -> None:
    """Point the alias at the new collection in one step, then drop what it pointed at."""
    if previous is None:
        client.create_alias(target, alias)
        return
    client.alter_alias(target, alias)
    for name in (previous["collection"], previous["documents"]):
        if client.has_collection(name):
            client.drop_collection(name)
