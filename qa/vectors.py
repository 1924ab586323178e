"""The FAISS side of the store: build, atomically save, load and search the vector index.

SQLite holds every vector too, so this file is a derived artefact: a missing or damaged
one is rebuilt from SQLite rather than trusted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError, IndexWriteError
from qa.faults import kill_point


def _faiss():
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return faiss


def build(ids: np.ndarray, vectors: np.ndarray, dim: int):
    """Exact inner-product index over unit vectors (= cosine), keyed by our passage ids."""
    faiss = _faiss()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                           np.ascontiguousarray(ids, dtype=np.int64))  # fmt: skip
    return index


def write_atomic(index, path: Path) -> None:
    """Write to a temp file in the same folder, fsync, rename, fsync the folder."""
    faiss = _faiss()
    fd, temp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, temp_name)
        kill_point("during_vector_write")
        with open(temp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
        fsync_dir(path.parent)
    except (OSError, RuntimeError) as error:  # faiss reports a full disk as RuntimeError
        Path(temp_name).unlink(missing_ok=True)
        reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[-1]
        raise IndexWriteError(
            f"could not save {path.name} in {path.parent} ({reason}); the previous index is "
            "intact: free some disk space and run the build again"
        ) from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path, dim: int, count: int):
    """Read a saved index and check it holds `count` vectors of `dim`; IndexCorruptError otherwise."""
    faiss = _faiss()
    if not path.exists():
        raise IndexCorruptError(f"vector file {path.name} is missing")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise IndexCorruptError(f"vector file {path.name} cannot be read ({first_line})") from None
    if index.d != dim or index.ntotal != count:
        raise IndexCorruptError(
            f"vector file {path.name} holds {index.ntotal} vectors of dimension {index.d}, "
            f"the metadata expects {count} of dimension {dim}"
        )
    return index


def search(index, query: np.ndarray, n: int, allowed_ids: np.ndarray | None = None):
    """Top-n (ids, scores) for one query vector; `allowed_ids` restricts the search to a subset."""
    faiss = _faiss()
    if index.ntotal == 0 or n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if query.shape[1] != index.d:
        raise ValueError(
            f"query vector has dimension {query.shape[1]}, the index expects {index.d}"
        )
    params = None
    if allowed_ids is not None:
        if len(allowed_ids) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids.astype(np.int64)))
        n = min(n, len(allowed_ids))
    scores, ids = index.search(query, min(n, index.ntotal), params=params)
    keep = ids[0] >= 0  # FAISS pads with -1 when fewer results exist
    return ids[0][keep], scores[0][keep]


def vectors_for(index, ids: np.ndarray) -> np.ndarray:
    """Stored vectors of the given passage ids (for scoring lexical-only candidates exactly)."""
    return (
        np.vstack([index.reconstruct(int(i)) for i in ids]) if len(ids) else np.empty((0, index.d))
    )
