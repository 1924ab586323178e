"""Question answering over Chinese policy documents, citing the source paragraphs."""

from qa.answer import answer, stream_answer
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
from qa.followup import ResolvedQuery
from qa.quotes import Answer, Citation
from qa.search import Index, Passage, retrieve

__all__ = [
    "Answer",
    "BuildReport",
    "Citation",
    "EmptyBuildError",
    "Index",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMissingError",
    "IngestError",
    "ModelMismatchError",
    "Passage",
    "QAError",
    "ResolvedQuery",
    "answer",
    "build_index",
    "remove_documents",
    "retrieve",
    "stream_answer",
]
