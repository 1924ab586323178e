"""The chat app's Library: add and delete documents, and the checks on uploaded files.

Kept apart from qa.webapp so the upload rules can be read (and tested) on their own: uploads are
renamed to a name we choose, type-checked and size-limited, accepted only from Gradio's upload
folder, and anything not indexed is removed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from qa.build import build_index, uploads_folder
from qa.documents import IGNORED_NAMES
from qa.errors import EmptyBuildError, IndexBusyError
from qa.library_text import FileResult, check_metadata, reason_of, results_text
from qa.library_trash import Trash, write_metadata
from qa.search import Index

log = logging.getLogger(__name__)

UPLOAD_TYPES = (".html", ".htm", ".md", ".txt", ".pdf", ".docx")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_EXAMPLES = 6


def safe_upload_name(name: str) -> str:
    """A file name we choose: the basename, reduced to safe characters, with a checked suffix.

    Raises ValueError for a type we don't read.
    """
    base = unicodedata.normalize("NFKC", Path(str(name).replace("\\", "/")).name)
    suffix = Path(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ValueError(f"{base}: unsupported type; upload one of {', '.join(UPLOAD_TYPES)}")
    stem = re.sub(r"[^\w\-]+", "_", Path(base).stem).strip("._") or "upload"
    if IGNORED_NAMES.match(f"{stem}{suffix}"):
        stem = f"upload_{stem}"  # README.md and the like are never indexed
    return f"{stem[:80]}{suffix}"


def gradio_upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(os.path.realpath(get_upload_folder()))


def uploaded_files(paths: list[str]) -> list[Path]:
    """The paths, resolved, if every one lies inside Gradio's upload folder; else ValueError.

    Gradio runs the same check before it reads a file (build_server makes it run); this one
    keeps upload() safe on its own. The real path is checked, so links out of it don't count.
    """
    folder = gradio_upload_folder()
    resolved = [Path(os.path.realpath(path)) for path in paths]
    for path in resolved:
        if not path.is_relative_to(folder) or path == folder:
            raise ValueError(f"{path.name}: not an uploaded file; upload it through the page")
    return resolved


def remove_gradio_copies(paths: list[Path]) -> None:
    """Delete Gradio's copies of uploaded files (and their folders when empty)."""
    folder = gradio_upload_folder()
    for path in paths:
        path.unlink(missing_ok=True)
        if path.parent != folder:
            with contextlib.suppress(OSError):  # not empty: another upload shares it
                path.parent.rmdir()


class Library:
    """Upload and delete documents; one update at a time: a second one, from this process or
    another (the index's writer lock), fails at once with IndexBusyError.

    A file copied into uploads/ stays there only if the index holds it; anything refused,
    skipped or failed is removed again, or the next start-up would index it behind the user's
    back.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self.folder = uploads_folder(index.index_dir)
        for stale in self.folder.glob(".*.part") if self.folder.is_dir() else ():
            stale.unlink(missing_ok=True)  # left by a crash mid-copy
        self._writing = threading.Lock()
        self.trash = Trash(index)

    @contextlib.contextmanager
    def _one_writer(self) -> Iterator[None]:
        """Held for a whole update, copying included: a file copied into uploads/ while another
        build runs would be indexed (or removed) by that build."""
        if not self._writing.acquire(blocking=False):
            raise IndexBusyError("the library is being updated; try again when it is done")
        try:
            yield
        finally:
            self._writing.release()

    def rows(self) -> list[list]:
        return [[d["title"], d["date"] or "", d["passages"], d["source"] or "", d["doc_id"]]
                for d in self.index.documents()]  # fmt: skip

    def size(self) -> tuple[int, int]:
        """(documents, passages) in the library."""
        documents = self.index.documents()
        return len(documents), sum(d["passages"] for d in documents)

    def examples(self) -> list[str]:
        """A question per document that can be asked of it, newest first: when it took effect,
        or its 主要目标 when it has such a section. Empty when no document offers one."""
        effective = {d for d, a in self.index.authorities().items() if a.effective}
        goals = {d for d, section in self.index.sections() if "主要目标" in section}
        questions = []
        for doc in self.index.documents():
            if doc["doc_id"] in effective:
                questions.append(f"《{doc['title']}》什么时候开始施行？")
            elif doc["doc_id"] in goals:
                questions.append(f"《{doc['title']}》的主要目标是什么？")
        return questions[:MAX_EXAMPLES]

    def add(self, paths: list[str], progress=None, lang: str = "zh") -> str:
        """Copy the files in and index them; one line per file (added, unchanged or refused with
        the reason, in `lang`), then the build's summary."""
        with self._one_writer():
            summary, results = self._add(paths, progress)
        return results_text(summary, results, lang)

    def _add(self, paths: list[str], progress) -> tuple[str, list[FileResult]]:
        if not paths:
            return "请选择文件。/ Choose a file first.", []
        staged = []
        for path in paths:
            source = Path(path)
            name = safe_upload_name(source.name)
            if not source.is_file():
                raise ValueError(f"{name}: the upload is gone; choose the file again")
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise ValueError(f"{name}: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
            staged.append((source, name))
        self.folder.mkdir(parents=True, exist_ok=True)
        known = {d["path"]: d for d in self.index.documents()}
        stored = {_sha256(p): known[str(p.resolve())] for p in self._uploads()
                  if str(p.resolve()) in known}  # fmt: skip
        results: dict[int, FileResult] = {}
        copied: list[tuple[int, Path]] = []
        try:
            for n, (source, name) in enumerate(staged):
                same = stored.get(_sha256(source))
                if same is not None:  # the very same file again: nothing to do
                    results[n] = FileResult(name, "unchanged", title=same["title"])
                else:
                    copied.append((n, self._copy_in(source, name)))
            if not copied:
                return "", [results[n] for n in sorted(results)]
            report = build_index([self.folder], self.index.index_dir,
                                 embedder=self.index.embedder, progress=progress)  # fmt: skip
            summary, warnings = report.summary(), report.warnings
        except EmptyBuildError as error:
            self._remove([target for _, target in copied])
            summary, warnings = "", str(error).splitlines()[1:]
        except BaseException:
            self._remove([target for _, target in copied])
            raise
        titles = {d["path"]: d["title"] for d in self.index.documents()}
        for n, target in copied:
            name = staged[n][1]
            if str(target) in titles:
                results[n] = FileResult(name, "added", title=titles[str(target)])
                continue
            self._remove([target])  # or the next start-up would index it behind the user's back
            why = next((w for w in warnings if str(target) in w), "")
            copy_of = re.search(r"same text as (.+)$", why)
            title = titles.get(copy_of.group(1).strip(), "") if copy_of else ""
            results[n] = FileResult(name, "refused", reason_of(why), title or "?")
            log.info("upload %s refused: %s", name, self._shown(why))
        return summary, [results[n] for n in sorted(results)]

    def _uploads(self) -> list[Path]:
        return [p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")
                and not p.name.endswith(".meta.yaml")] if self.folder.is_dir() else []  # fmt: skip

    def _copy_in(self, source: Path, name: str) -> Path:
        """Copy under a name no other upload has (a b.md and a_b.md both become a_b…)."""
        stem, suffix = Path(name).stem, Path(name).suffix
        temp = self.folder / f".{name}.part"
        try:
            shutil.copyfile(source, temp)
            for n in range(1, 1000):
                target = self.folder / (name if n == 1 else f"{stem}-{n}{suffix}")
                try:
                    os.link(temp, target)  # atomic, and never replaces an existing file
                    return target.resolve()
                except FileExistsError:
                    continue
            raise ValueError(f"{name}: too many uploads with this name; rename the file")
        finally:
            temp.unlink(missing_ok=True)

    def _remove(self, targets: list[Path]) -> None:
        for target in targets:
            target.unlink(missing_ok=True)

    def _shown(self, text: str) -> str:
        """A build message without the server's folders in it: /srv/x/uploads/a.md → a.md."""
        return re.sub(r"(?<![\w.])/(?:[^/\s:,;]+/)+", "", text)

    def delete(self, doc_id: str, confirm: str | None = None) -> str:
        """Move a document to the trash; `confirm` must repeat its id (a deletion is never a
        stray click or a guessed default)."""
        with self._one_writer():
            return self.trash.put(doc_id, confirm)

    def restore(self, entry: str) -> str:
        """Bring a document back from the trash, with its saved vectors: nothing is embedded."""
        with self._one_writer():
            return self.trash.restore(entry)

    def empty_trash(self) -> str:
        with self._one_writer():
            return self.trash.empty()

    def edit(self, doc_id: str, fields: dict) -> str:
        """Set title, date, issuer, doc_number, level or status of an uploaded document (empty
        fields are left as they are), then re-index it."""
        with self._one_writer():
            return self._edit(doc_id, check_metadata(fields))

    def _edit(self, doc_id: str, fields: dict) -> str:
        row = next((d for d in self.index.documents() if d["doc_id"] == doc_id), None)
        path = Path(row["path"] or "") if row else None
        if path is None or not path.is_file() or path.parent.resolve() != self.folder.resolve():
            raise ValueError(f"{doc_id}: only uploaded documents of the library can be edited")
        if not fields:
            return "没有要修改的字段。/ Nothing to change: fill in a field first."
        write_metadata(path, fields)
        report = build_index([self.folder], self.index.index_dir, embedder=self.index.embedder)
        return report.summary()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
