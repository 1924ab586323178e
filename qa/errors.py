"""Errors the library raises. Each message says what went wrong and how to fix it."""

from __future__ import annotations


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
