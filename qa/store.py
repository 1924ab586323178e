"""The index on disk: SQLite is the one source of truth, FAISS a derived file tied to it.

Layout of an index folder:
    index.sqlite          documents, passages (with their vectors), FTS5 lexical terms, meta
    vectors-<gen>.faiss   the vector index of generation <gen>, named in meta
    write.lock            held by the one process allowed to write

A write happens inside one SQLite transaction. The new FAISS file is written atomically
under a new generation name *before* the transaction commits, and the old one is deleted
only after. A crash at any point leaves the last committed generation intact and loadable.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import vectors
from qa.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IndexWriteError,
    ModelMismatchError,
)
from qa.faults import kill_point
from qa.text import embedding_input, tokenize

FORMAT_VERSION = 1
DB_NAME = "index.sqlite"
LOCK_NAME = "write.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, root TEXT, path TEXT, title TEXT NOT NULL, date TEXT,
    source TEXT, issuer TEXT, doc_number TEXT, file_sha256 TEXT, text_sha256 TEXT,
    text TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, paragraph INTEGER NOT NULL, paragraph_end INTEGER NOT NULL,
    heading TEXT, text TEXT NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    hash TEXT NOT NULL, vector BLOB, page INTEGER, content_hash TEXT NOT NULL
);
-- Paragraphs that repeat a passage of another document (syndicated news): stored once,
-- cited as "also published by". No foreign key on original_id: deleting an original
-- promotes its first duplicate instead (Writer.delete_passages).
CREATE TABLE IF NOT EXISTS duplicates (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    original_id INTEGER NOT NULL, seq INTEGER NOT NULL, paragraph INTEGER NOT NULL,
    paragraph_end INTEGER NOT NULL, heading TEXT, text TEXT NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, page INTEGER
);
CREATE INDEX IF NOT EXISTS duplicates_original ON duplicates(original_id);
CREATE INDEX IF NOT EXISTS duplicates_doc ON duplicates(doc_id);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, seq);
CREATE INDEX IF NOT EXISTS passages_hash ON passages(hash);
CREATE INDEX IF NOT EXISTS passages_content ON passages(content_hash);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(terms, tokenize = 'unicode61');
"""

PASSAGE_COLUMNS = (
    "p.id, p.doc_id, p.paragraph, p.paragraph_end, p.heading, p.text, p.char_start, p.char_end, p.page, "
    "d.title, d.date, d.source, d.issuer, d.doc_number, d.path"
)


@dataclass(frozen=True)
class Filter:
    """Restricts a search to some documents and/or a date range (ISO dates, inclusive)."""

    docs: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    def sql(self) -> tuple[str, list]:
        clauses, args = [], []
        if self.docs is not None:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(self.docs))})")
            args.extend(self.docs)
        if self.date_from:
            clauses.append("d.date >= ?")
            args.append(self.date_from)
        if self.date_to:
            clauses.append("d.date <= ?")
            args.append(self.date_to)
        return " AND ".join(clauses) or "1", args

    @property
    def active(self) -> bool:
        return self.docs is not None or bool(self.date_from or self.date_to)


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}


def vector_file(generation: int) -> str:
    return f"vectors-{generation:06d}.faiss"


class Reader:
    """A read-only view of an index folder, reloaded when a writer commits a new generation."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        db = self.index_dir / DB_NAME
        if not db.exists():
            raise IndexMissingError(
                f"no index at {self.index_dir}: build one with `python index_build.py "
                f"--index-dir {self.index_dir}` (or `make index`)"
            )
        try:
            self.conn = _connect(db, readonly=True)
            self.meta = read_meta(self.conn)
        except sqlite3.DatabaseError as error:
            raise _corrupt(self.index_dir, f"the database cannot be read ({error})") from None
        _check_format(self.meta, self.index_dir)
        self.model_id = self.meta["model_id"]
        self.dim = int(self.meta["dim"])
        self.generation = -1
        self.faiss_index = None
        self.repaired = False
        self.refresh()

    def current_generation(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row["value"])

    def refresh(self) -> bool:
        """Load the vectors of the committed generation if it changed; True when it did."""
        generation = self.current_generation()
        if generation == self.generation:
            return False
        for _attempt in range(3):  # a writer may commit and delete the old file meanwhile
            self.conn.execute("BEGIN")
            try:
                generation = self.current_generation()
                count = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                path = self.index_dir / vector_file(generation)
                try:
                    self.faiss_index = vectors.load(path, self.dim, count)
                    self.repaired = False
                except IndexCorruptError:
                    if self.current_generation() != generation:
                        continue
                    # The vectors are in SQLite too: serve from a rebuilt copy, and say so.
                    self.faiss_index = self._rebuild_vectors()
                    self.repaired = True
                self.generation = generation
                return True
            finally:
                self.conn.execute("COMMIT")
        raise IndexBusyError(f"{self.index_dir} keeps changing under a writer; try again")

    def _rebuild_vectors(self):
        ids, matrix = load_all_vectors(self.conn, self.dim)
        return vectors.build(ids, matrix, self.dim)

    def passages(self, ids: list[int]) -> dict[int, sqlite3.Row]:
        if not ids:
            return {}
        rows = self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN documents d USING (doc_id) "
            f"WHERE p.id IN ({','.join('?' * len(ids))})",
            [int(i) for i in ids],
        )
        return {row["id"]: row for row in rows}

    def republications(self, ids: list[int]) -> dict[int, list[sqlite3.Row]]:
        """For each passage id, the other documents that carry the same paragraph."""
        found: dict[int, list[sqlite3.Row]] = {}
        if ids:
            rows = self.conn.execute(
                "SELECT x.original_id, x.doc_id, x.paragraph, d.title, d.source, d.date "
                "FROM duplicates x JOIN documents d USING (doc_id) "
                f"WHERE x.original_id IN ({','.join('?' * len(ids))}) ORDER BY d.date, d.title",
                [int(i) for i in ids],
            )
            for row in rows:
                found.setdefault(row["original_id"], []).append(row)
        return found

    def lexical(self, terms: list[str], n: int, where: Filter) -> list[tuple[int, float]]:
        """BM25 over the FTS5 terms; higher is better."""
        if not terms:
            return []
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in dict.fromkeys(terms))
        clause, args = where.sql()
        rows = self.conn.execute(
            "SELECT t.rowid AS id, -bm25(passage_terms) AS score FROM passage_terms t "
            "JOIN passages p ON p.id = t.rowid JOIN documents d USING (doc_id) "
            f"WHERE passage_terms MATCH ? AND {clause} ORDER BY bm25(passage_terms) LIMIT ?",
            [match, *args, n],
        )
        return [(row["id"], row["score"]) for row in rows]

    def allowed_ids(self, where: Filter) -> np.ndarray:
        clause, args = where.sql()
        rows = self.conn.execute(
            f"SELECT p.id FROM passages p JOIN documents d USING (doc_id) WHERE {clause}", args
        )
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def documents(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT d.doc_id, d.title, d.date, d.source, d.issuer, d.path, count(p.id) AS passages "
            "FROM documents d LEFT JOIN passages p USING (doc_id) GROUP BY d.doc_id "
            "ORDER BY d.date DESC, d.title"
        ))  # fmt: skip

    def close(self) -> None:
        self.conn.close()


def _corrupt(index_dir: Path, reason: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"index at {index_dir} is corrupt: {reason}; run `python index_build.py --rebuild "
        f"--index-dir {index_dir}`"
    )


def _check_format(meta: dict[str, str], index_dir: Path) -> None:
    missing = {"format_version", "model_id", "dim", "generation"} - meta.keys()
    if missing:
        raise _corrupt(index_dir, f"its manifest lacks {', '.join(sorted(missing))}")
    if int(meta["format_version"]) != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {index_dir} has format {meta['format_version']}, this version reads "
            f"{FORMAT_VERSION}; run `python index_build.py --rebuild --index-dir {index_dir}`"
        )


def load_all_vectors(conn: sqlite3.Connection, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(-1, dim)
    return ids, matrix


class Writer:
    """The one writer of an index folder: holds the lock and one open transaction."""

    def __init__(self, index_dir: Path, model_id: str, dim: int, rebuild: bool = False) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.index_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            raise IndexBusyError(
                f"another build is writing {self.index_dir} ({holder}); wait for it to finish"
            ) from None
        self._lock_file.truncate(0)
        self._lock_file.write(f"pid {os.getpid()}")
        self._lock_file.flush()
        try:
            self.conn = _connect(self.index_dir / DB_NAME, readonly=False)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.executescript(SCHEMA)
            self.conn.execute("BEGIN IMMEDIATE")
            self.meta = read_meta(self.conn)
        except sqlite3.DatabaseError as error:
            self.release()
            raise _corrupt(self.index_dir, f"the database cannot be opened ({error})") from None
        self.model_id, self.dim = model_id, dim
        if rebuild:
            self.conn.execute("DELETE FROM passage_terms")
            self.conn.execute("DELETE FROM passages")
            self.conn.execute("DELETE FROM documents")
        elif self.meta.get("model_id") and (self.meta["model_id"], int(self.meta["dim"])) != (
            model_id,
            dim,
        ):
            built_with = f"{self.meta['model_id']} (dimension {self.meta['dim']})"
            self.release()
            raise ModelMismatchError(
                f"index at {self.index_dir} was built with {built_with}, not {model_id} "
                f"(dimension {dim}); add --rebuild to re-embed everything with the new model, "
                f"or pass --model {self.meta['model_id']}"
            )
        if (
            self.meta
            and int(self.meta.get("format_version", FORMAT_VERSION)) != FORMAT_VERSION
            and not rebuild
        ):
            self.release()
            raise _corrupt(self.index_dir, f"it has format {self.meta['format_version']}")

    # -- reads inside the transaction
    def documents(self) -> dict[str, sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT doc_id, root, path, file_sha256, text_sha256, title FROM documents"
        )
        return {row["doc_id"]: row for row in rows}

    def passage_hashes(self, doc_id: str) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                "SELECT id, hash FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)
            )
        )

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            rows = self.conn.execute(
                f"SELECT hash, vector FROM passages WHERE vector IS NOT NULL "
                f"AND hash IN ({','.join('?' * len(batch))})",
                batch,
            )
            found.update((row["hash"], row["vector"]) for row in rows)
        return found

    # -- writes inside the transaction
    def put_document(self, doc: dict) -> None:
        columns = ("doc_id", "root", "path", "title", "date", "source", "issuer", "doc_number",
                   "file_sha256", "text_sha256", "text")  # fmt: skip
        # An upsert, not INSERT OR REPLACE: a replace deletes the row first, and the delete
        # would cascade to the passages we are about to keep.
        updates = ", ".join(
            f"{column} = excluded.{column}" for column in (*columns[1:], "updated_at")
        )
        self.conn.execute(
            f"INSERT INTO documents ({', '.join(columns)}, updated_at) "
            f"VALUES ({', '.join('?' * len(columns))}, ?) ON CONFLICT(doc_id) DO UPDATE SET {updates}",
            [doc.get(column) for column in columns] + [time.time()],
        )

    def delete_document(self, doc_id: str) -> int:
        ids = [row["id"] for row in self.passage_hashes(doc_id)]
        self.delete_passages(ids)
        self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return len(ids)

    def delete_passages(self, ids: list[int]) -> None:
        """Delete passages; one that other documents repeat moves to the first of them instead."""
        for passage_id in ids:
            duplicate = self.conn.execute(
                "SELECT rowid, * FROM duplicates WHERE original_id = ? ORDER BY rowid LIMIT 1",
                (passage_id,),
            ).fetchone()
            if duplicate is None:
                self.conn.execute("DELETE FROM passage_terms WHERE rowid = ?", (passage_id,))
                self.conn.execute("DELETE FROM passages WHERE id = ?", (passage_id,))
                continue
            row = dict(duplicate)
            self.conn.execute(
                f"UPDATE passages SET doc_id = ?, {', '.join(f'{c} = ?' for c in self.POSITION)} "
                "WHERE id = ?",
                [row["doc_id"], *(row[c] for c in self.POSITION), passage_id],
            )
            self.conn.execute("DELETE FROM duplicates WHERE rowid = ?", (row["rowid"],))
            title = self.conn.execute(
                "SELECT title FROM documents WHERE doc_id = ?", (row["doc_id"],)
            ).fetchone()[0]
            terms = " ".join(tokenize(embedding_input(title, row["heading"], row["text"])))
            self.conn.execute(
                "UPDATE passage_terms SET terms = ? WHERE rowid = ?", (terms, passage_id)
            )

    # Columns a passage row carries besides doc_id, id and vector.
    POSITION = (
        "seq",
        "paragraph",
        "paragraph_end",
        "heading",
        "char_start",
        "char_end",
        "text",
        "page",
    )

    def move_passage(self, passage_id: int, row: dict) -> None:
        """Keep an unchanged passage (and its vector) but record its new position."""
        self.conn.execute(
            f"UPDATE passages SET {', '.join(f'{c} = ?' for c in self.POSITION)} WHERE id = ?",
            [row[c] for c in self.POSITION] + [passage_id],
        )

    def add_passage(self, doc_id: str, row: dict, terms: str) -> int:
        """Insert a passage whose vector comes later (set_vector); returns its id."""
        columns = ("doc_id", *self.POSITION, "hash", "content_hash")
        cursor = self.conn.execute(
            f"INSERT INTO passages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [doc_id, *(row[c] for c in self.POSITION), row["hash"], row["content_hash"]],
        )
        self.conn.execute(
            "INSERT INTO passage_terms (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, terms)
        )
        return cursor.lastrowid

    def set_vector(self, passage_id: int, vector: bytes) -> None:
        self.conn.execute("UPDATE passages SET vector = ? WHERE id = ?", (vector, passage_id))

    def original_of(self, content_hash: str, doc_id: str) -> int | None:
        """A passage of another document with the same normalised text, if there is one."""
        row = self.conn.execute(
            "SELECT id FROM passages WHERE content_hash = ? AND doc_id != ? ORDER BY id LIMIT 1",
            (content_hash, doc_id),
        ).fetchone()
        return row[0] if row else None

    def add_duplicate(self, doc_id: str, original_id: int, row: dict) -> None:
        columns = ("doc_id", "original_id", *self.POSITION)
        self.conn.execute(
            f"INSERT INTO duplicates ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [doc_id, original_id, *(row[c] for c in self.POSITION)],
        )

    def clear_duplicates(self, doc_id: str) -> None:
        self.conn.execute("DELETE FROM duplicates WHERE doc_id = ?", (doc_id,))

    def counts(self) -> tuple[int, int]:
        documents = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        return documents, passages

    def commit(self, **extra_meta: str) -> int:
        """Write the vectors of the new generation, then commit it; returns the generation."""
        generation = int(self.meta.get("generation", "0")) + 1
        ids, matrix = load_all_vectors(self.conn, self.dim)
        vectors.write_atomic(
            vectors.build(ids, matrix, self.dim), self.index_dir / vector_file(generation)
        )
        documents, passages = self.counts()
        manifest = {
            "format_version": FORMAT_VERSION, "model_id": self.model_id, "dim": self.dim,
            "normalized": True, "metric": "inner_product", "generation": generation,
            "documents": documents, "passages": passages,
        } | extra_meta  # fmt: skip
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(key, json.dumps(value) if isinstance(value, bool) else str(value))
             for key, value in manifest.items()],
        )  # fmt: skip
        kill_point("before_metadata_commit")
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as error:  # e.g. "database or disk is full"
            self.rollback()
            (self.index_dir / vector_file(generation)).unlink(missing_ok=True)
            raise IndexWriteError(
                f"could not save the index in {self.index_dir} ({error}); the previous index is "
                "intact: free some disk space and run the build again"
            ) from None
        self.meta = {key: str(value) for key, value in manifest.items()}
        for stale in self.index_dir.glob("vectors-*.faiss*"):
            if stale.name != vector_file(generation):
                stale.unlink(missing_ok=True)
        return generation

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def release(self) -> None:
        if getattr(self, "conn", None) is not None:
            self.rollback()
            self.conn.close()
            self.conn = None
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
