"""The index on disk: SQLite is the one source of truth; FAISS and BM25 files are derived from it.

Layout of an index folder:
    index.sqlite          documents, passages (with their vectors), FTS5 lexical terms, meta
    vectors-<gen>.faiss   the base vector index, written by the commit of generation <gen>
    terms-<gen>.npz       its BM25 postings (qa.lexical), built from the FTS5 terms
    segment-<gen>.*       the passages a later commit added, deleted-<gen>.npy those it
                          removed (qa.segments); meta names the files of the generation
    write.lock            held by the one process allowed to write
    web/, uploads/        corpus folders of fetched pages and uploaded files
    index.sqlite.corrupt-<time>   a database --rebuild could not use, kept for inspection

This module is the read side (the schema is qa.schema); qa.writer the write side. A write happens
inside one SQLite transaction. The new FAISS and BM25 files (a base, or a segment) are written
atomically under a new generation name *before* the transaction commits, and the files no
generation names any more are deleted only after. A
crash at any point leaves the last committed generation intact and loadable; a damaged derived
file (unreadable, or naming other passage ids than SQLite) is rebuilt from SQLite. Every public
Reader method turns damage into a QAError (qa.errors.guard_methods), and a Reader follows its
folder's path: an index moved there is reopened, a deleted one is reported (qa.integrity).
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

import numpy as np

from qa import authority, lexical, segments, vectors
from qa.authority import Authority
from qa.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    ModelMismatchError,
    corrupt_error,
    guard_methods,
)
from qa.integrity import Manifest, file_id, parse_manifest, vector_kind, whole_number
from qa.schema import DB_NAME, FORMAT_VERSION
from qa.segments import terms_file, vector_file  # noqa: F401 - the base's file names
from qa.store_base import Filter

PASSAGE_COLUMNS = (
    "p.id, p.doc_id, p.paragraph, p.paragraph_end, p.heading, p.text, p.char_start, p.char_end, p.page, "
    "p.locator, p.article, p.section, d.title, d.date, d.source, d.issuer, d.doc_number, d.path"
)


def connect(path: Path, readonly: bool, immutable: bool = False) -> sqlite3.Connection:
    """`immutable`: read without the -shm file, for a folder this process may not write."""
    # Quoted: a folder named "a#b" would otherwise open the file "a".
    uri = f"file:{urllib.parse.quote(str(path))}"
    if readonly:
        uri += "?mode=ro&immutable=1" if immutable else "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}


@guard_methods
class Reader:
    """A read-only view of an index folder, reloaded when a writer commits a new generation.

    An index folder replaced under it (another build renamed into place) is reopened, one
    deleted under it is reported, rather than serving what is no longer there.
    """

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.conn = None
        self.generation = -1
        self.faiss_index = None
        self.terms = None
        self.repaired = False
        self._damaged = -1
        manifest = self._open()
        self.model_id, self.dim = manifest.model_id, manifest.dim
        self.refresh()

    def _open(self) -> Manifest:
        """(Re)open the database now at the folder's path and check its manifest."""
        db = self.index_dir / DB_NAME
        try:
            opened = file_id(db)
        except FileNotFoundError:
            raise IndexMissingError(
                f"no index at {self.index_dir}: build one with `python index_build.py "
                f"--index-dir {self.index_dir}` (or `make index`)"
            ) from None
        read_only = False
        try:
            conn, meta, manifest = _open_checked(db, self.index_dir, immutable=False)
        except sqlite3.OperationalError:
            if os.access(self.index_dir, os.W_OK):
                raise
            # SQLite cannot create the -shm file of a WAL database in a folder this process
            # may not write; read the file as it is (a writer, needing the folder, is not seen).
            conn, meta, manifest = _open_checked(db, self.index_dir, immutable=True)
            read_only = True
        # The caller closes the previous connection (or goes back to it).
        self.conn, self.meta, self.read_only, self._file = conn, meta, read_only, opened
        self.generation = -1
        self._parts = segments.PartCache()  # loaded files are this database's only
        # Caches per generation of the previous file.
        for cache in ("_authorities", "_sections", "_allowed_cache"):
            self.__dict__.pop(cache, None)
        return manifest

    def _follow_path(self) -> None:
        """Reopen the index if another one was moved to its folder; fail if it was deleted."""
        try:
            if file_id(self.index_dir / DB_NAME) == self._file:
                return
        except FileNotFoundError:
            raise IndexMissingError(
                f"index at {self.index_dir} was deleted while it was open; build it again with "
                f"`python index_build.py --index-dir {self.index_dir}`"
            ) from None
        previous = self.conn, self.meta, self.read_only, self._file, self.generation
        try:
            manifest = self._open()
        except IndexMissingError:
            # A new file with nothing committed yet (a --rebuild moved a damaged one aside):
            # keep serving the previous one until the new one commits.
            return
        if (manifest.model_id, manifest.dim) != (self.model_id, self.dim):
            self.conn.close()  # back to the previous file: the next call checks again
            self.conn, self.meta, self.read_only, self._file, self.generation = previous
            raise ModelMismatchError(
                f"index at {self.index_dir} was replaced by one built with {manifest.model_id} "
                f"(dimension {manifest.dim}), but this process embeds with {self.model_id} "
                f"(dimension {self.dim}): open it again (restart the app)"
            )
        previous[0].close()

    def current_generation(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return whole_number(row["value"] if row else None, "generation", self.index_dir)

    def refresh(self) -> bool:
        """Load the vectors and terms of the committed generation if it changed; True when it
        did. Only the files new since the loaded generation are read (qa.segments)."""
        self._follow_path()
        if self.current_generation() == self.generation:
            return False
        for _attempt in range(3):  # a writer may commit and delete the old files meanwhile
            self.conn.execute("BEGIN")
            try:
                loaded = self._load_generation()
            finally:
                self.conn.execute("COMMIT")
            if loaded is not None:
                return True
            if self.current_generation() == self._damaged:
                self._repair()
                return True
        raise IndexBusyError(f"{self.index_dir} keeps changing under a writer; try again")

    def _load_generation(self) -> bool | None:
        """Inside a read transaction: load the generation; None when a file could not be read
        (its generation is then in self._damaged, to tell damage from a writer's cleanup)."""
        meta = read_meta(self.conn)
        generation = whole_number(meta.get("generation"), "generation", self.index_dir)
        layout = segments.parse_layout(meta, self.index_dir)
        ids = segments.passage_ids(self.conn)
        kind = vector_kind(meta.get("vector_index"), self.index_dir)
        self._damaged = generation
        try:
            deleted = segments.load_deleted(self.index_dir, layout)
            terms = self._parts.load_terms(self.index_dir, layout, ids, deleted)
            dense = self._parts.load_vectors(self.index_dir, layout, self.dim, kind, ids, deleted)
        except IndexCorruptError:
            return None
        self.faiss_index, self.terms, self.generation = dense, terms, generation
        self.repaired = False
        return True

    def _repair(self) -> None:
        """Serve a generation whose derived files are damaged from copies rebuilt from SQLite
        (the vectors and the terms are there too), and say so in `repaired`."""
        self.conn.execute("BEGIN")
        try:
            generation = self.current_generation()
            ids, matrix = load_all_vectors(self.conn, self.dim)
            dense = vectors.build(ids, matrix, self.dim, self._vector_index())
            terms = lexical.build(self.conn)
            if not np.array_equal(terms.ids, ids):
                raise corrupt_error(self.index_dir, "its lexical terms and its passages disagree")
        finally:
            self.conn.execute("COMMIT")
        self._parts = segments.PartCache()
        self.faiss_index, self.terms = vectors.SegmentedIndex([dense]), terms
        self.generation, self.repaired = generation, True

    def _vector_index(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'vector_index'").fetchone()
        return vector_kind(row["value"] if row else None, self.index_dir)

    def count(self) -> int:
        return int(self.faiss_index.ntotal)

    def _allowed(self, where: Filter | None) -> np.ndarray | None:
        """The passage ids `where` lets through (None: all), once per filter and generation."""
        if where is None or not where.active:
            return None
        cached = getattr(self, "_allowed_cache", None)
        if cached is None or cached[:2] != (self.generation, where):
            cached = self._allowed_cache = (self.generation, where, self.allowed_ids(where))
        return cached[2]

    def dense(self, vector: np.ndarray, n: int, where: Filter | None = None):
        """(ids, cosines) of the n passages nearest `vector` that pass `where`."""
        return vectors.search(self.faiss_index, vector, n, self._allowed(where))

    def vectors(self, ids) -> np.ndarray:
        """The stored vectors of these passage ids (e.g. the exact cosine of a lexical hit)."""
        return vectors.vectors_for(self.faiss_index, np.asarray(ids, dtype=np.int64))

    def fetch(self, ids) -> dict[int, sqlite3.Row]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN documents d USING (doc_id) "
            f"WHERE p.id IN ({','.join('?' * len(ids))})",
            ids,
        )
        return {row["id"]: row for row in rows}

    def following(self, doc_id: str, paragraph: int, limit: int) -> list[sqlite3.Row]:
        """The passages after `paragraph` in a document, in reading order."""
        return self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN documents d USING (doc_id) "
            "WHERE p.doc_id = ? AND p.paragraph > ? ORDER BY p.paragraph LIMIT ?",
            (doc_id, int(paragraph), int(limit)),
        ).fetchall()

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

    def lexical(self, terms: list[str], n: int, where: Filter | None = None):
        """[(passage id, BM25 score)] best first, of the passages that pass `where`."""
        return self.terms.search(terms, n, self._allowed(where))

    def term_counts(self, tokens: list[str], cap: int) -> dict[str, int]:
        return {t: min(self.terms.passages_holding(t), cap) for t in tokens}

    def allowed_ids(self, where: Filter) -> np.ndarray:
        not_in_force = tuple(d for d, a in self.authorities().items() if not a.in_force)
        clause, args = where.sql(not_in_force)
        rows = self.conn.execute(
            f"SELECT p.id FROM passages p JOIN documents d USING (doc_id) WHERE {clause}", args
        )
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def authorities(self) -> dict[str, Authority]:
        """Each document's authority with the library's relations joined (qa.authority.resolve);
        computed once per generation."""
        cached = getattr(self, "_authorities", None)
        if cached is None or cached[0] != self.generation:
            cached = self._authorities = (self.generation, library_authorities(self.conn))
        return cached[1]

    def provision(self, doc_id: str, article: str) -> list[sqlite3.Row]:
        """The passages of one article (第二十二条) of a document, in reading order."""
        return self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN documents d USING (doc_id) "
            "WHERE p.doc_id = ? AND p.article = ? ORDER BY p.paragraph, p.seq",
            (doc_id, article),
        ).fetchall()

    def section(self, doc_id: str, section: str, limit: int = 40) -> list[sqlite3.Row]:
        """The passages under an outline heading (and its sub-headings), in reading order."""
        return self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN documents d USING (doc_id) "
            "WHERE p.doc_id = ? AND (p.section = ? OR p.section LIKE ?) "
            "ORDER BY p.paragraph, p.seq LIMIT ?",
            (doc_id, section, section.replace("%", "") + " › %", int(limit)),
        ).fetchall()

    def sections(self, doc_ids: list[str] | None = None) -> list[tuple[str, str]]:
        """(doc_id, section) pairs of the library's outline headings; read once per generation
        (a scan of every passage, which a question must not pay)."""
        cached = getattr(self, "_sections", None)
        if cached is None or cached[0] != self.generation:
            rows = self.conn.execute(
                "SELECT DISTINCT doc_id, section FROM passages "
                "WHERE section IS NOT NULL AND section != ''"
            )
            cached = self._sections = (self.generation, [(r[0], r[1]) for r in rows])
        return [pair for pair in cached[1] if doc_ids is None or pair[0] in doc_ids]

    def titles(self) -> list[dict]:
        """[{doc_id, title}] of every document (cheap: no passage counts)."""
        return [dict(r) for r in self.conn.execute("SELECT doc_id, title FROM documents")]

    def with_article(self, article: str) -> list[str]:
        """Ids of the documents that have this article."""
        rows = self.conn.execute(
            "SELECT DISTINCT doc_id FROM passages WHERE article = ?", (article,)
        )
        return [r[0] for r in rows]

    def documents(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT d.doc_id, d.title, d.date, d.source, d.issuer, d.path, count(p.id) AS passages "
            "FROM documents d LEFT JOIN passages p USING (doc_id) GROUP BY d.doc_id "
            "ORDER BY d.date DESC, d.title"
        ))  # fmt: skip

    def close(self) -> None:
        self.conn.close()


def _open_checked(db: Path, index_dir: Path, immutable: bool):
    """(connection, meta, Manifest) of a database file; the connection is closed on failure."""
    conn = connect(db, readonly=True, immutable=immutable)
    try:
        meta = read_meta(conn)
        manifest = parse_manifest(meta, index_dir)
        check_format(manifest, index_dir)
        return conn, meta, manifest
    except BaseException:
        conn.close()
        raise


def check_format(manifest: Manifest, index_dir: Path) -> None:
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index at {index_dir} has format {manifest.format_version}, this version reads "
            f"{FORMAT_VERSION}; run `python index_build.py --rebuild --index-dir {index_dir}`"
        )


def library_authorities(conn: sqlite3.Connection) -> dict[str, Authority]:
    """Each document's authority with the library's relations joined (qa.authority.resolve)."""
    rows = conn.execute("SELECT doc_id, title, authority FROM documents")
    found = {r["doc_id"]: (r["title"], Authority.from_json(r["authority"])) for r in rows}
    return authority.resolve(found)


def load_all_vectors(conn: sqlite3.Connection, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(-1, dim)
    return ids, matrix
