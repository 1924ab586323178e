"""Question answering over Chinese policy documents, citing the source paragraphs."""

from qa.build import BuildReport, build_index, remove_documents
from qa.errors import (
    EmptyBuildError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IngestError,
    ModelMismatchError,
    QAError,
)
from qa.search import Index, Passage, retrieve

__all__ = [
    "BuildReport",
    "EmptyBuildError",
    "Index",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMissingError",
    "IngestError",
    "ModelMismatchError",
    "Passage",
    "QAError",
    "build_index",
    "remove_documents",
    "retrieve",
]
