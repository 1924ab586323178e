"""The one writer of an index folder: the lock, one transaction, and the atomic commit.

See qa.store for the layout. A commit writes the new generation's files (temp file, fsync,
rename) before the SQLite transaction that names them, and removes the unnamed ones after:
a segment of what changed, or a new base when qa.segments asks for a merge.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from qa import lexical, segments, vectors
from qa.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexWriteError,
    ModelMismatchError,
    QAError,
    corrupt_error,
    from_sqlite,
    read_only_error,
)
from qa.faults import kill_point
from qa.index_rows import IndexRows
from qa.integrity import Manifest, check_sound, file_id, move_aside, parse_manifest
from qa.schema import DB_NAME, FORMAT_VERSION, LATE_SCHEMA, LOCK_NAME, MIGRATIONS, SCHEMA
from qa.segments import Layout
from qa.store import (
    connect,
    load_all_vectors,
    read_meta,
    terms_file,
    vector_file,
)

# What SQLite raises on a full disk or a damaged file (a garbled name in a message it cannot
# decode included); mapped by qa.errors.from_sqlite.
SQLITE_FAILURES = (sqlite3.DatabaseError, UnicodeError)


class Writer(IndexRows):
    """The one writer of an index folder: holds the lock and one open transaction (its row
    reads and writes come from qa.index_rows.IndexRows)."""

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
        self.conn = None
        self.moved_aside: Path | None = None  # where --rebuild put a database it could not use
        self._lock_file = self._lock()
        try:
            manifest = self._open(rebuild)
        except BaseException:
            self.release()
            raise
        self.model_id, self.dim = model_id, dim
        # An explicit choice wins; otherwise an index keeps the type it was built with.
        self.vector_index = (
            chosen_index or self.meta.get("vector_index") or vectors.DEFAULT_VECTOR_INDEX
        )
        if not rebuild and manifest and (manifest.model_id, manifest.dim) != (model_id, dim):
            self.release()
            raise ModelMismatchError(
                f"index at {self.index_dir} was built with {manifest.model_id} (dimension "
                f"{manifest.dim}), not {model_id} (dimension {dim}); add --rebuild to re-embed "
                f"everything with the new model, or pass --model {manifest.model_id}"
            )

    def _lock(self):
        """Create the folder if needed and take its write lock; the open lock file."""
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise IndexWriteError(
                f"cannot create the index folder {self.index_dir} ({error.strerror}); choose a "
                "writable place with --index-dir"
            ) from None
        db = self.index_dir / DB_NAME
        for path in (self.index_dir, db, *(db.with_name(db.name + s) for s in ("-wal", "-shm"))):
            if path.exists() and not os.access(path, os.W_OK):
                raise read_only_error(self.index_dir, f"this user may not write {path}")
        try:
            lock_file = open(self.index_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held for life
        except PermissionError as error:
            raise read_only_error(self.index_dir, error.strerror) from None
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            lock_file.close()
            raise IndexBusyError(
                f"another build is writing {self.index_dir} ({holder}); wait for it to finish"
            ) from None
        lock_file.truncate(0)
        lock_file.write(f"pid {os.getpid()}")
        lock_file.flush()
        return lock_file

    def _open(self, rebuild: bool) -> Manifest | None:
        """Open the database and begin the transaction; the manifest, None for a new index.

        With `rebuild`, a database that cannot be used (not a database, damaged, a manifest or
        format it cannot read) is moved aside, kept for inspection, and a new one is started.
        """
        db = self.index_dir / DB_NAME
        for attempt in range(2):
            try:
                return self._begin(db, rebuild)
            except (*SQLITE_FAILURES, IndexCorruptError) as error:
                self._close()
                problem = (
                    error
                    if isinstance(error, QAError)
                    else from_sqlite(self.index_dir, error, writing=True)
                )
                if attempt or not (rebuild and isinstance(problem, IndexCorruptError)):
                    raise problem from None
                self.moved_aside = move_aside(db, getattr(error, "reason", str(error)))
        raise AssertionError("unreachable")

    def _begin(self, db: Path, rebuild: bool) -> Manifest | None:
        self.conn = connect(db, readonly=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(SCHEMA)
        self.conn.execute("BEGIN IMMEDIATE")
        self._file = file_id(db)  # the file this writer may commit into (_check_still_here)
        self.meta = read_meta(self.conn)
        manifest = parse_manifest(self.meta, self.index_dir) if self.meta else None
        if manifest and manifest.format_version != FORMAT_VERSION:
            if manifest.format_version not in MIGRATIONS:
                raise corrupt_error(self.index_dir, f"it has format {manifest.format_version}")
            for statement in MIGRATIONS[manifest.format_version]:  # all or nothing
                self.conn.execute(statement)
        self.conn.execute(LATE_SCHEMA)
        # A migration or a rebuild changes every passage: its commit rewrites the base.
        self._rewrite = rebuild or bool(manifest and manifest.format_version != FORMAT_VERSION)
        self._touched: set[int] = set()  # passages whose vector or terms changed in place
        if rebuild:
            check_sound(self.conn, self.index_dir, SCHEMA + LATE_SCHEMA)
            self.conn.execute("DELETE FROM passage_terms")
            self.conn.execute("DELETE FROM passages")
            self.conn.execute("DELETE FROM documents")
        self._generation = manifest.generation if manifest else 0
        self._committed_ids = self._passage_ids()  # what the committed files hold
        return manifest

    def _check_still_here(self) -> None:
        """Refuse to commit into a database that is no longer the one at the folder's path."""
        try:
            if file_id(self.index_dir / DB_NAME) == self._file:
                return
            change = "replaced during the build (another index was moved there)"
        except FileNotFoundError:
            change = "deleted or moved away during the build"
        raise IndexWriteError(
            f"index folder {self.index_dir} was {change}; nothing was saved: run the build again"
        )

    def commit(self, *, merge: bool = False, **extra_meta: str) -> int:
        """Write the files of the new generation, then commit it; returns the generation.

        The files are a segment of what changed since the last commit, or with `merge` (or
        when qa.segments says so) one new base of everything. Nothing is written into a
        folder that no longer holds this writer's database, and on a failure the previous
        generation stays the committed one.
        """
        self._check_still_here()
        generation = self._generation + 1
        written: list[Path] = []
        try:
            ids = self._passage_ids()
            layout = None if merge else self._append(generation, ids, written)
            if layout is None:
                layout = self._write_base(generation, written)
            documents, passages = self.counts()
            manifest = {
                "format_version": FORMAT_VERSION, "model_id": self.model_id, "dim": self.dim,
                "normalized": True, "metric": "inner_product", "vector_index": self.vector_index,
                "generation": generation,
                "documents": documents, "passages": passages,
            } | layout.meta() | extra_meta  # fmt: skip
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(key, json.dumps(value) if isinstance(value, bool) else str(value))
                 for key, value in manifest.items()],
            )  # fmt: skip
            kill_point("before_metadata_commit")
            self._check_still_here()
            self.conn.execute("COMMIT")  # e.g. "database or disk is full"
        except BaseException as error:
            self.rollback()
            if self._still_here():  # else these names may be another index's files now
                for path in written:
                    path.unlink(missing_ok=True)
            if isinstance(error, SQLITE_FAILURES):
                raise from_sqlite(self.index_dir, error, writing=True) from error
            raise
        self.meta = {key: str(value) for key, value in manifest.items()}
        self._generation, self._committed_ids, self._touched = generation, ids, set()
        self._rewrite = False
        kill_point("before_stale_cleanup")
        if self._still_here():
            segments.remove_stale(self.index_dir, layout.files())
        return generation

    def commit_records(self) -> None:
        """Commit rows that no derived file depends on (qa.file_stats) without starting a
        generation: for a build that changed no document. Not while a migration or rebuild is
        pending, which only a full commit may make durable."""
        if self._rewrite:
            return
        self._check_still_here()
        try:
            self.conn.execute("COMMIT")
        except SQLITE_FAILURES as error:
            self.rollback()
            raise from_sqlite(self.index_dir, error, writing=True) from error

    def _passage_ids(self) -> np.ndarray:
        return segments.passage_ids(self.conn)

    def _append(self, generation: int, ids: np.ndarray, written: list[Path]) -> Layout | None:
        """Write a segment of what changed and the deletions; the new layout, or None when
        this commit should rewrite the base instead (qa.segments)."""
        if (
            self._rewrite
            or not segments.enabled()
            or self.vector_index != "flat"
            or self.meta.get("vector_index", vectors.DEFAULT_VECTOR_INDEX) != "flat"
            or len(ids) < segments.MIN_BASE
        ):
            return None
        return segments.append(
            self.conn, self.index_dir, self.meta, generation, ids, self._committed_ids,
            self._touched, self.dim, written,
        )  # fmt: skip

    def _write_base(self, generation: int, written: list[Path]) -> Layout:
        """Rewrite everything from SQLite as the base of this generation (a merge)."""
        try:
            ids, matrix = load_all_vectors(self.conn, self.dim)
        except (TypeError, ValueError) as error:
            raise corrupt_error(self.index_dir, f"a stored vector is damaged ({error})") from None
        written += [
            self.index_dir / terms_file(generation),
            self.index_dir / vector_file(generation),
        ]
        lexical.write_atomic(lexical.postings(self.conn), self.index_dir / terms_file(generation))
        vectors.write_atomic(
            vectors.build(ids, matrix, self.dim, self.vector_index),
            self.index_dir / vector_file(generation),
        )
        return segments.Layout(base=generation, base_passages=len(ids))

    def _still_here(self) -> bool:
        try:
            self._check_still_here()
            return True
        except IndexWriteError:
            return False

    def rollback(self) -> None:
        if self.conn is not None and self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.rollback()
            except sqlite3.Error:
                pass  # closing discards the transaction anyway
            finally:
                self.conn.close()
                self.conn = None

    def release(self) -> None:
        self._close()
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, error, traceback) -> None:
        self.release()
        # A full disk or damage met in the middle of a build: one clear error, not SQLite's.
        if isinstance(error, SQLITE_FAILURES):
            raise from_sqlite(self.index_dir, error, writing=True) from error


def merge_index(index_dir: Path) -> int:
    """Rewrite an index's base from SQLite, folding in its segments and deletions
    (`index_build.py --merge`); returns the new generation."""
    from qa.store import Reader

    reader = Reader(index_dir)  # validates the index before the lock is taken
    model_id, dim = reader.model_id, reader.dim
    reader.close()
    with Writer(index_dir, model_id, dim) as writer:
        return writer.commit(merge=True)
