"""Errors the library raises. Each message says what went wrong and how to fix it."""

from __future__ import annotations

import functools
import inspect
import sqlite3


class QAError(Exception):
    """Base class: the CLI prints these as one line instead of a traceback."""


class IngestError(QAError):
    """A corpus file could not be read; other files are still indexed."""

    def __init__(self, path: object, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        message = f"{self.path}: {problem}"
        super().__init__(f"{message}; {fix}" if fix else message)


class IndexMissingError(QAError):
    """No index at the given folder."""


class IndexCorruptError(QAError):
    """The files on disk disagree or cannot be read."""


class ModelMismatchError(QAError):
    """The index was built with another embedding model or dimension."""


class IndexBusyError(QAError):
    """Another process is already writing to the index."""


class EmptyBuildError(QAError):
    """A build found nothing to index; the existing index is left untouched."""


class IndexWriteError(QAError):
    """Saving failed (disk full, permissions); the previous index is intact."""


class IndexReadOnlyError(IndexWriteError):
    """The index folder or its files may not be written; reading it still works."""


def corrupt_error(index_dir: object, reason: str) -> IndexCorruptError:
    error = IndexCorruptError(
        f"index at {index_dir} is corrupt: {reason}; run `python index_build.py --rebuild "
        f"--index-dir {index_dir}`"
    )
    error.reason = reason  # what is wrong, without the advice (for a log line)
    return error


def read_only_error(index_dir: object, detail: str) -> IndexReadOnlyError:
    return IndexReadOnlyError(
        f"index folder {index_dir} is read-only; make it and its files writable (`chmod -R u+w "
        f"{index_dir}`) or build into another folder with --index-dir ({detail})"
    )


def from_sqlite(index_dir: object, error: BaseException, writing: bool = False) -> QAError:
    """The QAError for a failure of SQLite on an index (or for data it returned that is damaged).

    A full disk, a read-only file or a lock is not damage: only damage gets the --rebuild advice.
    """
    name = getattr(error, "sqlite_errorname", "") or ""
    text = " ".join(str(error).split())[:200] or type(error).__name__
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return IndexWriteError(
            f"could not save the index in {index_dir} ({text}); the previous index is intact: "
            "free some disk space and run the build again"
        )
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return read_only_error(index_dir, text)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return IndexBusyError(
            f"index at {index_dir} is locked by another process ({text}); try again"
        )
    if writing and (name.startswith("SQLITE_IOERR") or "disk I/O error" in text):
        return IndexWriteError(
            f"could not save the index in {index_dir} ({text}); the previous index is intact: "
            "check the disk and its free space, then run the build again"
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open database file" in text:
        return IndexMissingError(
            f"cannot open the index database in {index_dir} ({text}): check that index.sqlite is "
            "a file this user may read, in a folder it may write"
        )
    return corrupt_error(index_dir, f"the database cannot be read ({text})")


# Failures of a damaged database: from SQLite itself, from decoding what it returns, or from
# rows of the wrong type or size (a vector blob of 3 bytes). Readers see only QAErrors.
DAMAGE = (sqlite3.DatabaseError, UnicodeError, TypeError, ValueError, KeyError, IndexError,
          OverflowError, RuntimeError)  # fmt: skip


def guard_methods(cls: type) -> type:
    """Make every public method of `cls` (and __init__) turn DAMAGE into a QAError that names
    the instance's `index_dir`: the one boundary past which a damaged index cannot leak."""
    return guard_public(cls, DAMAGE, lambda self, error: from_sqlite(self.index_dir, error))


def guard_public(cls: type, errors: tuple[type[BaseException], ...], to_qa_error) -> type:
    """Make every public method of `cls` (and __init__) turn `errors` into the QAError that
    `to_qa_error(self, error)` gives; QAErrors pass unchanged."""

    def guarded(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except QAError:
                raise
            except errors as error:
                raise to_qa_error(self, error) from error

        return call

    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and (name == "__init__" or not name.startswith("_")):
            setattr(cls, name, guarded(value))
    return cls
