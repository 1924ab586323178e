"""Corpus folders → index: incremental by content hash, one transaction per run.

Only passages whose text (with its title and heading context) changed are embedded;
every other vector is reused from the store, even across documents.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import authority
from qa.chunking import Chunk, chunk_document
from qa.documents import MAX_FILE_BYTES, Document, read_document
from qa.embedding import Embedder, Progress, load_embedder
from qa.errors import EmptyBuildError, IngestError, QAError
from qa.faults import kill_point
from qa.file_stats import FileStats, corpus_files
from qa.text import embedding_input, normalize, tokenize
from qa.writer import Writer

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / "corpus"
# Bump when parsing or chunking changes: files are then re-read even if their bytes did not
# change (their unchanged passages still keep their vectors).
PIPELINE_VERSION = "8"


def web_folder(index_dir: Path) -> Path:
    """Where snapshots of fetched web pages are kept (a corpus folder of their own)."""
    return Path(index_dir) / "web"


def uploads_folder(index_dir: Path) -> Path:
    """Where files added through the chat app are kept."""
    return Path(index_dir) / "uploads"


def managed_corpora(index_dir: Path) -> list[Path]:
    """The index's own corpus folders that exist: fetched pages and uploads."""
    return [
        folder for folder in (web_folder(index_dir), uploads_folder(index_dir)) if folder.is_dir()
    ]


def default_index_dir() -> Path:
    """QA_INDEX_DIR, else the git-ignored .index/ folder of the checkout."""
    return Path(os.environ.get("QA_INDEX_DIR") or REPO_ROOT / ".index")


@dataclass
class BuildReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    documents: int = 0
    passages: int = 0
    embedded: int = 0
    duplicates: int = 0  # paragraphs stored once because another document has them
    embed_seconds: float = 0.0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    synced: str = ""  # what the sync to the Milvus store (QA_STORE) did

    def summary(self) -> str:
        return (
            f"{self.documents} documents ({self.added} added, {self.updated} updated, "
            f"{self.removed} removed, {self.unchanged} unchanged) · {self.passages} paragraphs · "
            f"embedded {self.embedded} in {self.embed_seconds:.1f} s"
            + (f" · {self.duplicates} duplicate paragraphs stored once" if self.duplicates else "")
            + (f"\n{self.synced}" if self.synced else "")
        )


def passage_hash(embed_text: str) -> str:
    """Identity of a passage's vector: its text in context (title and heading included)."""
    return hashlib.sha256(normalize(embed_text).encode()).hexdigest()[:32]


def content_hash(text: str) -> str:
    """Identity of a paragraph across documents: the words alone, so that the same story
    syndicated with other punctuation, spacing or boilerplate around it still matches."""
    return hashlib.sha256(re.sub(r"\W+", "", normalize(text)).encode()).hexdigest()[:32]


def build_index(
    corpus_dirs: Sequence[str | Path] = (DEFAULT_CORPUS,),
    index_dir: str | Path | None = None,
    *,
    model: str | None = None,
    rebuild: bool = False,
    vector_index: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    cached_vectors: dict[str, bytes] | None = None,
) -> BuildReport:
    """Bring the index in line with the corpus folders.

    Documents from these folders are added, updated or removed; documents indexed from
    other folders are kept. Bad files are skipped with a warning in the report.
    `vector_index` ("flat" or "hnsw", default QA_VECTOR_INDEX or what the index has) is the
    FAISS index type. `cached_vectors` (passage hash → vector bytes, e.g. a restored document's)
    are used before anything is embedded. Files listed in <index>/deleted.json (deleted in the
    chat app's Library) are skipped while their bytes are the same.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir) if index_dir else default_index_dir()
    roots = [Path(d).resolve() for d in corpus_dirs]
    for root in roots:
        if not root.is_dir():
            raise QAError(
                f"corpus folder {root} does not exist; pass an existing folder to --corpus"
            )
    embedder = embedder or load_embedder(model_for(index_dir, model, rebuild))
    report = BuildReport()
    with Writer(index_dir, embedder.model_id, embedder.dim, rebuild, vector_index) as writer:
        if writer.moved_aside:
            report.warnings.append(
                f"the old database could not be used; it was moved to {writer.moved_aside}"
            )
        known = writer.documents()
        known_by_path = {row["path"]: row for row in known.values()}
        same_pipeline = writer.meta.get("pipeline_version") == PIPELINE_VERSION
        seen_docs: dict[str, str] = {}  # doc_id → path of the file it came from in this run
        seen_texts: dict[str, str] = {row["text_sha256"]: row["path"] for row in known.values()}
        to_index: list[tuple[Document, Path]] = []
        deleted = deleted_files(index_dir)  # file sha256 → doc id
        # Unchanged files are not read again (qa.file_stats); a rebuild hashes every file.
        stats = FileStats(writer.conn, _file_sha256, trust=not rebuild)
        for root in roots:
            for path in corpus_files(root):  # resolved paths
                row = known_by_path.get(str(path)) if same_pipeline else None
                sha = stats.sha256(path)  # sidecar included: a metadata edit is a change
                if row is not None and row["file_sha256"] == sha:
                    seen_docs[row["doc_id"]] = str(path)
                    report.unchanged += 1
                    continue
                if deleted and (gone := deleted.get(sha or "")):
                    report.warnings.append(
                        f"skipped {path}: {gone!r} was deleted in the Library; restore it there"
                    )
                    continue
                try:
                    document = read_document(path, root)
                except IngestError as error:
                    report.warnings.append(f"skipped {error}")
                    continue
                except Exception as error:  # a parser bug on one odd file must not stop the build
                    log.warning("reading %s failed", path, exc_info=True)
                    reason = f"{type(error).__name__}: {str(error)[:200]}"
                    report.warnings.append(
                        f"skipped {path}: could not be read ({reason}); "
                        "the log has the details, please report it"
                    )
                    continue
                uploads = uploads_folder(index_dir).resolve()
                if _is_under(path, uploads):  # own namespace: an upload never replaces a corpus doc
                    document.doc_id = "upload/" + path.relative_to(uploads).as_posix()
                if document.doc_id in seen_docs:
                    report.warnings.append(
                        f"skipped {path}: doc id {document.doc_id!r} is already used by "
                        f"{seen_docs[document.doc_id]}; give one of them a distinct `id:` in its front matter"
                    )
                    continue
                copy_of = seen_texts.get(document.text_sha256)
                previous = known.get(document.doc_id)
                if (
                    copy_of
                    and copy_of != str(path)
                    and (previous is None or previous["path"] != copy_of)
                ):
                    report.warnings.append(f"skipped {path}: same text as {copy_of}")
                    continue
                seen_docs[document.doc_id] = str(path)
                seen_texts[document.text_sha256] = str(path)
                to_index.append((document, root))

        if not to_index and not seen_docs:
            raise EmptyBuildError(
                f"no usable documents in {', '.join(map(str, roots))}; the index was left as it was"
                + ("".join(f"\n  {warning}" for warning in report.warnings))
            )

        for doc_id, row in known.items():
            if doc_id in seen_docs:
                continue
            if rebuild or any(_is_under(Path(row["path"] or ""), root) for root in roots):
                writer.delete_document(doc_id)
                report.removed += 1

        pending = _plan_passages(writer, to_index, known, report)
        _embed_and_store(writer, embedder, pending, report, progress, cached_vectors)
        kill_point("after_embedding")
        report.documents, report.passages = writer.counts()
        nothing_changed = (
            not (report.added or report.updated or report.removed)
            and same_pipeline
            and writer.meta.get("vector_index", "flat") == writer.vector_index
        )
        stats_changed = stats.save(roots)
        if nothing_changed and writer.meta.get("model_id") and not rebuild:
            if stats_changed and not to_index:
                writer.commit_records()  # only the file stats: no new generation
            report.seconds = time.perf_counter() - started
            _sync_store(index_dir, report, replace=False)  # the store may lag the record
            return report  # the committed generation is already this state
        if report.passages == 0:
            raise EmptyBuildError(
                "the build produced no paragraphs; the index was left as it was"
                + "".join(f"\n  {warning}" for warning in report.warnings)
            )
        writer.commit(pipeline_version=PIPELINE_VERSION)
    _sync_store(index_dir, report, replace=rebuild)
    report.seconds = time.perf_counter() - started
    return report


def _sync_store(index_dir: Path, report: BuildReport, replace: bool) -> None:
    """Copy what the commit changed into the Milvus store QA_STORE names, if any; the local
    index stays the record it is synced from."""
    from qa.stores import store_location

    uri = store_location()
    if uri is not None:
        from qa.milvus_sync import sync

        report.synced = sync(index_dir, uri, replace=replace).summary()


def model_for(index_dir: Path, model: str | None = None, rebuild: bool = False) -> str | None:
    """The model to build with: the one asked for (argument or QA_EMBED_MODEL), else the one the
    index was built with, so that a new default never forces a rebuild; `rebuild` takes the
    default. None means the default."""
    if model or os.environ.get("QA_EMBED_MODEL") or rebuild:
        return model
    from qa.store import DB_NAME, connect, read_meta

    if not (Path(index_dir) / DB_NAME).exists():
        return None
    db = Path(index_dir) / DB_NAME
    # A folder this user may not write needs an immutable read (see qa.store.Reader._open).
    for immutable in (False, True):
        try:
            conn = connect(db, readonly=True, immutable=immutable)
            try:
                return read_meta(conn).get("model_id")
            finally:
                conn.close()
        except sqlite3.OperationalError:
            if immutable or os.access(index_dir, os.W_OK):
                return None
        except (sqlite3.DatabaseError, UnicodeError):
            return None  # the writer reports the damage with advice
    return None


def remove_documents(doc_ids: Sequence[str], index_dir: str | Path | None = None) -> BuildReport:
    """Delete documents (by doc id or source path) from the index."""
    index_dir = Path(index_dir) if index_dir else default_index_dir()
    from qa.store import Reader

    reader = Reader(index_dir)  # also validates the index before we take the lock
    model_id, dim = reader.model_id, reader.dim
    reader.close()
    report = BuildReport()
    with Writer(index_dir, model_id, dim) as writer:
        known = writer.documents()
        for wanted in doc_ids:
            match = known.get(wanted) or next(
                (row for row in known.values() if row["path"] == str(Path(wanted).resolve())), None
            )
            if match is None:
                raise QAError(
                    f"no document {wanted!r} in the index; `index_build.py --list` shows the ids"
                )
            writer.delete_document(match["doc_id"])
            report.removed += 1
        report.documents, report.passages = writer.counts()
        writer.commit()
    _sync_store(index_dir, report, replace=False)
    return report


@dataclass
class _PendingPassage:
    passage_id: int
    hash: str
    embed_text: str


def _plan_passages(writer: Writer, to_index, known, report: BuildReport) -> list[_PendingPassage]:
    """Write document and passage rows; keep unchanged passages; return those needing a vector."""
    pending: list[_PendingPassage] = []
    for document, root in to_index:
        previous = {}  # hash → list of passage ids that can be kept
        for row in writer.passage_hashes(document.doc_id) if document.doc_id in known else []:
            previous.setdefault(row["hash"], []).append(row["id"])
        writer.clear_duplicates(document.doc_id)
        changed = False
        writer.put_document({
            "doc_id": document.doc_id, "root": str(root), "path": document.path,
            "title": document.title, "date": document.date, "source": document.source,
            "issuer": document.issuer, "doc_number": document.doc_number,
            "file_sha256": document.file_sha256, "text_sha256": document.text_sha256,
            "text": document.text, "authority": authority.infer(document).to_json(),
        })  # fmt: skip
        for chunk in chunk_document(document):
            embed_text = embedding_input(document.title, chunk.heading, chunk.text)
            row = _passage_row(chunk, passage_hash(embed_text), content_hash(chunk.text))
            kept = previous.get(row["hash"])
            if kept:
                writer.move_passage(kept.pop(0), row)
                continue
            changed = True
            original = writer.original_of(row["content_hash"], document.doc_id)
            if original is not None:
                writer.add_duplicate(document.doc_id, original, row)
                report.duplicates += 1
                continue
            passage_id = writer.add_passage(document.doc_id, row, " ".join(tokenize(embed_text)))
            pending.append(_PendingPassage(passage_id, row["hash"], embed_text))
        stale = [pid for ids in previous.values() for pid in ids]
        writer.delete_passages(stale)
        if document.doc_id not in known:
            report.added += 1
        elif changed or stale or known[document.doc_id]["file_sha256"] != document.file_sha256:
            report.updated += 1
        else:
            report.unchanged += 1  # re-read after a pipeline change, but nothing moved
    return pending


def _embed_and_store(writer, embedder, pending, report, progress, supplied=None) -> None:
    cached = {h: v for h, v in (supplied or {}).items() if len(v) == embedder.dim * 4}
    cached.update(writer.vectors_by_hash([p.hash for p in pending if p.hash not in cached]))
    missing = list(dict.fromkeys(p.hash for p in pending if p.hash not in cached))
    if missing:
        texts = {p.hash: p.embed_text for p in pending}
        started = time.perf_counter()
        matrix = embedder.embed_passages([texts[h] for h in missing], progress=progress)
        report.embed_seconds = time.perf_counter() - started
        report.embedded = len(missing)
        cached.update(
            (h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in zip(missing, matrix)
        )
    for passage in pending:
        writer.set_vector(passage.passage_id, cached[passage.hash])


def _passage_row(chunk: Chunk, hash_: str, content: str) -> dict:
    return {
        "seq": chunk.seq, "paragraph": chunk.paragraph, "paragraph_end": chunk.paragraph_end,
        "heading": chunk.heading, "text": chunk.text, "char_start": chunk.start,
        "char_end": chunk.end, "hash": hash_, "page": chunk.page, "content_hash": content,
        "locator": chunk.locator.to_json() if chunk.locator else None,
        "article": chunk.locator.article if chunk.locator else None,
        # The outline of a policy text, or the chapters of a law (第一章总则): what a question
        # names as a part of the document.
        "section": " › ".join(chunk.locator.sections or chunk.locator.divisions)
        if chunk.locator
        else None,
    }  # fmt: skip


def deleted_files(index_dir: Path) -> dict[str, str]:
    """file sha256 → doc id of the corpus files deleted in the Library (<index>/deleted.json)."""
    try:
        listed = json.loads((Path(index_dir) / "deleted.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none deleted, or a damaged list: then nothing is held back
    return {e["file_sha256"]: doc for doc, e in listed.items() if isinstance(e, dict)
            and isinstance(e.get("file_sha256"), str)} if isinstance(listed, dict) else {}  # fmt: skip


def _file_sha256(path: Path) -> str | None:
    """The file's hash, read in blocks; None when it cannot be read or has grown past the size
    limit (then read_document refuses it by name, without reading it whole)."""
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "rb") as file:
            while block := file.read(1 << 20):
                size += len(block)
                if size > MAX_FILE_BYTES:
                    return None
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False
