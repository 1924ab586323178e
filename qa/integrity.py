"""Is an index on disk what it claims to be? Its manifest, its database, its file identity.

qa.store (reading) and qa.writer (writing) use these checks; a database that fails them is
reported as corrupt, and --rebuild moves it aside (move_aside) instead of writing into it.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qa import vectors
from qa.errors import IndexMissingError, corrupt_error

log = logging.getLogger(__name__)


def file_id(path: Path) -> tuple[int, int]:
    """What tells one file at `path` from another put there later: (device, inode)."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


@dataclass(frozen=True)
class Manifest:
    """The checked fields of the meta table."""

    format_version: int
    model_id: str
    dim: int
    generation: int
    vector_index: str


def whole_number(value: str | None, key: str, index_dir: Path) -> int:
    text = "" if value is None else str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise corrupt_error(index_dir, f"its manifest has {key}={value!r}, not a whole number")
    return int(text)


def vector_kind(value: str | None, index_dir: Path) -> str:
    if value is None:
        return vectors.DEFAULT_VECTOR_INDEX
    if value not in vectors.VECTOR_INDEX_KINDS:
        raise corrupt_error(
            index_dir,
            f"its manifest has vector_index={value!r}, not one of "
            f"{', '.join(vectors.VECTOR_INDEX_KINDS)}",
        )
    return value


def parse_manifest(meta: dict[str, str], index_dir: Path) -> Manifest:
    """The manifest, or IndexCorruptError naming the field that is missing or malformed."""
    if not meta:  # the writer creates the tables at once but fills meta when it commits
        raise IndexMissingError(
            f"index at {index_dir} has nothing committed yet (a first build is running or was "
            f"interrupted): run `python index_build.py --index-dir {index_dir}`"
        )
    missing = {"format_version", "model_id", "dim", "generation"} - meta.keys()
    if missing:
        raise corrupt_error(index_dir, f"its manifest lacks {', '.join(sorted(missing))}")
    if not str(meta["model_id"]).strip():
        raise corrupt_error(index_dir, "its manifest has an empty model_id")
    dim = whole_number(meta["dim"], "dim", index_dir)
    if dim == 0:
        raise corrupt_error(index_dir, "its manifest has dim='0', not a dimension")
    return Manifest(
        format_version=whole_number(meta["format_version"], "format_version", index_dir),
        model_id=meta["model_id"],
        dim=dim,
        generation=whole_number(meta["generation"], "generation", index_dir),
        vector_index=vector_kind(meta.get("vector_index"), index_dir),
    )


def check_sound(conn: sqlite3.Connection, index_dir: Path, schema: str) -> None:
    """IndexCorruptError unless SQLite's checks pass and the tables are the ones `schema` makes.

    Run before a rebuild writes into a file (cheap next to re-embedding everything): damage
    found only at the commit would waste the whole build.
    """
    verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise corrupt_error(index_dir, f"SQLite's check finds {verdict!r}")
    conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()  # all decodable
    expected = _expected_schema(schema)
    if _schema(conn, expected) != expected:
        raise corrupt_error(index_dir, "its tables are not the ones this version makes")
    conn.execute("INSERT INTO passage_terms (passage_terms) VALUES ('integrity-check')")


def _schema(
    conn: sqlite3.Connection, names: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], frozenset]:
    """The columns of each table (or index) in `names`, as SQLite reports them."""
    found = {}
    for kind, name in names:
        pragma = "table_info" if kind == "table" else "index_info"
        found[kind, name] = frozenset(tuple(r) for r in conn.execute(f'PRAGMA {pragma}("{name}")'))
    return found


@functools.cache
def _expected_schema(schema: str) -> dict[tuple[str, str], frozenset]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        names = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')"
        )
        return _schema(conn, names.fetchall())
    finally:
        conn.close()


def move_aside(db: Path, reason: str) -> Path:
    """Rename a database file that cannot be used (and its -wal/-shm) to a .corrupt-* name."""
    name = f"{db.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    target, n = db.with_name(name), 1
    while target.exists():  # a second rebuild within the same second
        target, n = db.with_name(f"{name}-{n}"), n + 1
    # The log first: a new database must never meet the old one's write-ahead log.
    for suffix in ("-wal", "-shm", "-journal"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    if db.exists():
        db.rename(target)
    vectors.fsync_dir(db.parent)
    log.warning(
        "%s cannot be used (%s); moved it to %s and building a new index", db, reason, target
    )
    return target
