"""The one writer of an index folder: the lock, one transaction, and the atomic commit.

See qa.store for the layout. A commit writes the new generation's FAISS file (temp file,
fsync, rename) before the SQLite transaction that names it, and removes the old file after.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path

from qa import lexical, vectors
from qa.errors import IndexBusyError, IndexWriteError, ModelMismatchError
from qa.faults import kill_point
from qa.store import (
    DB_NAME,
    FORMAT_VERSION,
    LATE_SCHEMA,
    LOCK_NAME,
    MIGRATIONS,
    SCHEMA,
    connect,
    corrupt_error,
    load_all_vectors,
    read_meta,
    terms_file,
    vector_file,
)
from qa.text import embedding_input, tokenize


class Writer:
    """The one writer of an index folder: holds the lock and one open transaction."""

    def __init__(
        self,
        index_dir: Path,
        model_id: str,
        dim: int,
        rebuild: bool = False,
        vector_index: str | None = None,
    ) -> None:
        chosen_index = vectors.chosen_kind(vector_index)  # before anything is created or locked
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
            self.conn = connect(self.index_dir / DB_NAME, readonly=False)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.executescript(SCHEMA)
            self.conn.execute("BEGIN IMMEDIATE")
            self.meta = read_meta(self.conn)
        except sqlite3.DatabaseError as error:
            self.release()
            raise corrupt_error(
                self.index_dir, f"the database cannot be opened ({error})"
            ) from None
        self.model_id, self.dim = model_id, dim
        # An explicit choice wins; otherwise an index keeps the type it was built with.
        self.vector_index = (
            chosen_index or self.meta.get("vector_index") or vectors.DEFAULT_VECTOR_INDEX
        )
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
            old_format = int(self.meta["format_version"])
            if old_format not in MIGRATIONS:
                self.release()
                raise corrupt_error(self.index_dir, f"it has format {old_format}")
            for statement in MIGRATIONS[old_format]:  # in this transaction: all or nothing
                self.conn.execute(statement)
        self.conn.execute(LATE_SCHEMA)

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
                   "file_sha256", "text_sha256", "text", "authority")  # fmt: skip
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
        "locator",
        "article",
        "section",
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
        lexical.write_atomic(lexical.build(self.conn), self.index_dir / terms_file(generation))
        vectors.write_atomic(
            vectors.build(ids, matrix, self.dim, self.vector_index),
            self.index_dir / vector_file(generation),
        )
        documents, passages = self.counts()
        manifest = {
            "format_version": FORMAT_VERSION, "model_id": self.model_id, "dim": self.dim,
            "normalized": True, "metric": "inner_product", "vector_index": self.vector_index,
            "generation": generation,
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
            (self.index_dir / terms_file(generation)).unlink(missing_ok=True)
            raise IndexWriteError(
                f"could not save the index in {self.index_dir} ({error}); the previous index is "
                "intact: free some disk space and run the build again"
            ) from None
        self.meta = {key: str(value) for key, value in manifest.items()}
        current = {vector_file(generation), terms_file(generation)}
        for stale in [
            *self.index_dir.glob("vectors-*.faiss*"),
            *self.index_dir.glob("terms-*.npz*"),
        ]:
            if stale.name not in current:
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
