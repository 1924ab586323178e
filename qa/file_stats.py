"""Which corpus files changed since the last build, without reading the unchanged ones.

A build used to resolve and hash every corpus file on every run: at 100k passages (5,000 files)
that was most of a one-article commit (issue 15 §3). Now the folder walk is one os.scandir pass,
and a file whose stat signature (size, inode, device, mtime and ctime, of the file and of its
`.meta.yaml` sidecar) matches the one recorded when it was last hashed keeps that hash.

Racy files, as git calls them: on a file system with coarse timestamps, a file edited again
within the same tick after it was hashed keeps its signature. So a signature is only recorded
when the file's and its sidecar's mtimes are more than RACY_NS before the build started; a file
modified later than that is hashed again at the next build. (The ctime in the signature
catches an edit whose mtime was put back, as `touch -r` or `rsync -t` do.) (As for git, a file server
whose clock runs behind this machine's by more than that defeats the rule; --rebuild hashes
every file.)

The signatures live in the index database, in a table of their own that no derived file
depends on (created if missing, so the index format does not change).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from qa.documents import IGNORED_NAMES, SUFFIXES, iter_corpus_files, sidecar_path, with_sidecar

RACY_NS = 2_000_000_000
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS file_stats "
    "(path TEXT PRIMARY KEY, signature TEXT NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID"
)
Stamp = tuple[int, int, int, int, int]  # size, inode, device, mtime_ns, ctime_ns


def corpus_files(root: Path) -> list[Path]:
    """The resolved paths of the files iter_corpus_files(root) yields, in its order.

    One os.scandir walk with no per-file resolve: under a resolved root with no symbolic link
    below it, every path is already resolved. A tree with a link, a device or FIFO, or a folder
    that cannot be listed is left to iter_corpus_files, which checks and warns about each.
    """
    root = root.resolve()
    found: list[tuple[tuple[str, ...], Path]] = []
    folders: list[tuple[tuple[str, ...], str]] = [((), str(root))]
    try:
        while folders:
            parts, folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue  # hidden, as iter_corpus_files skips them
                    if entry.is_symlink():
                        return _checked_files(root)
                    here = (*parts, entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        folders.append((here, entry.path))
                    elif not entry.is_file(follow_symlinks=False):
                        return _checked_files(root)
                    elif _suffix(entry.name) in SUFFIXES and not IGNORED_NAMES.match(entry.name):
                        found.append((here, Path(entry.path)))
    except OSError:
        return _checked_files(root)
    return [path for _, path in sorted(found)]  # Path order is the order of the parts


def _suffix(name: str) -> str:
    """PurePath(name).suffix.lower() without building a path (a few µs a file)."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def _checked_files(root: Path) -> list[Path]:
    return [path.resolve() for path in iter_corpus_files(root)]


def _stamp(path: Path) -> Stamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_ino, info.st_dev, info.st_mtime_ns, info.st_ctime_ns


class FileStats:
    """The hashes of corpus files by resolved path, reused while their signature holds.

    Rows are written into the connection's open transaction by save(): they commit (or roll
    back) with the build. `trust=False` (a rebuild) hashes every file and starts afresh.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        hash_file: Callable[[Path], str | None],
        trust: bool = True,
    ) -> None:
        self.started_ns = time.time_ns()  # before any file is looked at: the racy reference
        self._conn, self._hash = conn, hash_file
        conn.execute(SCHEMA)
        if not trust:
            conn.execute("DELETE FROM file_stats")
        self._known = {
            path: (signature, sha)
            for path, signature, sha in conn.execute(
                "SELECT path, signature, sha256 FROM file_stats"
            )
        }
        self._seen: set[str] = set()
        self._new: list[tuple[str, str, str]] = []

    def sha256(self, path: Path) -> str | None:
        """The file's hash with its sidecar folded in (documents.with_sidecar); None when it
        cannot be read or is over the size limit."""
        key = str(path)
        self._seen.add(key)
        stamps = (_stamp(path), _stamp(sidecar_path(path)))
        signature = " ".join(",".join(map(str, s)) if s else "-" for s in stamps)
        known = self._known.get(key)
        if stamps[0] is not None and known is not None and known[0] == signature:
            return known[1]
        sha = with_sidecar(path, self._hash(path))
        if sha is None or stamps[0] is None:
            return sha
        modified = max(s[3] for s in stamps if s)  # mtimes, as git does: a ctime is always recent
        if modified < self.started_ns - RACY_NS:
            self._new.append((key, signature, sha))
        return sha

    def save(self, roots: Iterable[Path]) -> bool:
        """Record the new signatures and forget the files under `roots` that are gone; whether
        there was anything to write."""
        prefixes = tuple(str(root).rstrip(os.sep) + os.sep for root in roots)
        gone = [(p,) for p in self._known if p not in self._seen and p.startswith(prefixes)]
        self._conn.executemany(
            "INSERT OR REPLACE INTO file_stats (path, signature, sha256) VALUES (?, ?, ?)",
            self._new,
        )
        self._conn.executemany("DELETE FROM file_stats WHERE path = ?", gone)
        wrote, self._new = bool(self._new or gone), []
        return wrote
