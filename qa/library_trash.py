"""The Library's trash: a deleted document can be restored, without re-embedding, until the
trash is emptied; and a document deleted from a corpus folder stays deleted across start-ups.

<index>/trash/<entry>/ holds entry.json (doc id, title, where it came from), vectors.npz (its
passages' hash → vector) and, for an upload, the file itself. <index>/deleted.json lists the
corpus files (doc id → file sha256) that qa.build skips while their bytes are the same.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import yaml

from qa.build import build_index, remove_documents, uploads_folder
from qa.documents import decode, sidecar_path, split_front_matter
from qa.search import Index
from qa.store import DB_NAME, connect

TEXT_TYPES = (".md", ".txt", ".html", ".htm")


class Trash:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.folder = Path(index.index_dir) / "trash"
        self.deleted_list = Path(index.index_dir) / "deleted.json"

    def entries(self) -> list[dict]:
        """What can be restored, most recently deleted first (each with its `entry` name)."""
        found = []
        for meta in self.folder.glob("*/entry.json") if self.folder.is_dir() else ():
            try:
                found.append({**json.loads(meta.read_text(encoding="utf-8")),
                              "entry": meta.parent.name})  # fmt: skip
            except (OSError, ValueError):
                continue  # half-written by a crash: not offered
        return sorted(found, key=lambda e: e.get("deleted_at", 0), reverse=True)

    def put(self, doc_id: str, confirm: str | None) -> str:
        if not doc_id:
            return "请选择要删除的文件。/ Choose a document first."
        row = self._row(doc_id)
        if row is None:
            raise ValueError(f"{doc_id}: not in the library")
        if confirm != doc_id:
            raise ValueError(f"confirm: repeat the document id {doc_id!r} to delete it")
        path = Path(row["path"] or "")
        uploads = uploads_folder(self.index.index_dir).resolve()
        from_upload = path.is_file() and path.resolve().parent == uploads
        entry = self.folder / f"{time.time_ns():x}"
        entry.mkdir(parents=True)
        hashes, vectors = self._vectors(doc_id)
        np.savez(entry / "vectors.npz", hashes=np.array(hashes, dtype=str), vectors=vectors)
        meta = {"doc_id": doc_id, "title": row["title"], "date": row["date"], "path": str(path),
                "root": row["root"], "upload": from_upload, "file_sha256": row["file_sha256"],
                "deleted_at": time.time()}  # fmt: skip
        report = remove_documents([doc_id], self.index.index_dir)
        if from_upload:  # else the next start-up would index it again
            os.replace(path, entry / path.name)
            sidecar = sidecar_path(path)
            if sidecar.is_file():
                os.replace(sidecar, entry / sidecar.name)
        else:
            self._remember(doc_id, row["file_sha256"])
        _write_json(entry / "entry.json", meta)
        return report.summary()

    def restore(self, name: str) -> str:
        entry = self.folder / Path(str(name)).name
        try:
            meta = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ValueError(f"{name}: not in the trash (emptied?)") from None
        with np.load(entry / "vectors.npz") as saved:
            cached = {str(h): v.astype(np.float32).tobytes()
                      for h, v in zip(saved["hashes"], saved["vectors"])}  # fmt: skip
        if meta["upload"]:
            root = uploads_folder(self.index.index_dir)
            root.mkdir(parents=True, exist_ok=True)
            target = root / Path(meta["path"]).name
            if target.exists():
                raise ValueError(f"{target.name}: an upload of that name exists; delete it first")
            sidecar = entry / sidecar_path(target).name
            if sidecar.is_file():
                os.replace(sidecar, sidecar_path(target))
            os.replace(entry / target.name, target)
        else:
            root = Path(meta["root"])
            self._forget(meta["doc_id"])
        try:
            report = build_index([root], self.index.index_dir, embedder=self.index.embedder,
                                 cached_vectors=cached)  # fmt: skip
        except BaseException:
            if meta["upload"]:  # back to the trash, to try again
                os.replace(target, entry / target.name)
            else:
                self._remember(meta["doc_id"], meta["file_sha256"])
            raise
        shutil.rmtree(entry, ignore_errors=True)
        return report.summary()

    def empty(self) -> str:
        count = len(self.entries())
        shutil.rmtree(self.folder, ignore_errors=True)
        return f"已清空回收站（{count} 份文件）。/ Trash emptied ({count} documents)."

    def _row(self, doc_id: str):
        conn = connect(Path(self.index.index_dir) / DB_NAME, readonly=True)
        try:
            return conn.execute("SELECT doc_id, title, date, path, root, file_sha256 FROM documents"
                                " WHERE doc_id = ?", (doc_id,)).fetchone()  # fmt: skip
        finally:
            conn.close()

    def _vectors(self, doc_id: str) -> tuple[list[str], np.ndarray]:
        conn = connect(Path(self.index.index_dir) / DB_NAME, readonly=True)
        try:
            rows = conn.execute("SELECT hash, vector FROM passages WHERE doc_id = ? AND vector IS"
                                " NOT NULL", (doc_id,)).fetchall()  # fmt: skip
        finally:
            conn.close()
        dim = self.index.dim
        matrix = np.vstack([np.frombuffer(r["vector"], np.float32) for r in rows] or
                           [np.empty((0, dim), np.float32)])  # fmt: skip
        return [r["hash"] for r in rows], matrix

    def _listed(self) -> dict:
        try:
            listed = json.loads(self.deleted_list.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return listed if isinstance(listed, dict) else {}

    def _remember(self, doc_id: str, sha: str) -> None:
        _write_json(self.deleted_list, {**self._listed(), doc_id: {"file_sha256": sha}})

    def _forget(self, doc_id: str) -> None:
        listed = self._listed()
        listed.pop(doc_id, None)
        _write_json(self.deleted_list, listed)


def write_metadata(path: Path, fields: dict) -> None:
    """Merge fields into a text file's YAML front matter, or into `<name>.meta.yaml` for a
    .pdf or .docx; written to a temporary file first, then swapped in."""
    if path.suffix.lower() in TEXT_TYPES:
        front, body = split_front_matter(decode(path.read_bytes(), path), path)
        dumped = yaml.safe_dump({**front, **fields}, allow_unicode=True, sort_keys=False)
        target, text = path, f"---\n{dumped}---\n\n{body.lstrip()}"
    else:
        target = sidecar_path(path)
        old = yaml.safe_load(target.read_text(encoding="utf-8")) if target.is_file() else {}
        merged = {**(old if isinstance(old, dict) else {}), **fields}
        text = yaml.safe_dump(merged, allow_unicode=True, sort_keys=False)
    temp = target.with_name(f".{target.name}.part")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)


def _write_json(path: Path, value: object) -> None:
    temp = path.with_name(f".{path.name}.part")
    temp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temp, path)
