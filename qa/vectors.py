"""The FAISS side of the store: build, atomically save, load and search the vector index.

SQLite holds every vector too, so this file is a derived artefact: a missing or damaged
one is rebuilt from SQLite rather than trusted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError, IndexWriteError
from qa.faults import kill_point


def _faiss():
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return faiss


VECTOR_INDEX_KINDS = ("flat", "hnsw")
DEFAULT_VECTOR_INDEX = "flat"  # bench/results/faiss.json: exact and fast enough to 100k passages
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
TIE_MARGIN = 32  # extra hits per part, so that equal scores at the cut are ordered by id
EXACT_FILTER_LIMIT = 50_000  # filtered HNSW searches over fewer passages than this are exact


def check_kind(kind: str) -> str:
    if kind not in VECTOR_INDEX_KINDS:
        raise ValueError(
            f"vector index type must be one of {', '.join(VECTOR_INDEX_KINDS)}, not {kind!r} "
            "(set --vector-index or QA_VECTOR_INDEX)"
        )
    return kind


def chosen_kind(explicit: str | None = None) -> str | None:
    """The index type asked for (argument, else QA_VECTOR_INDEX), checked; None if neither."""
    kind = explicit or os.environ.get("QA_VECTOR_INDEX")
    return check_kind(kind) if kind else None


def build(ids: np.ndarray, vectors: np.ndarray, dim: int, kind: str = DEFAULT_VECTOR_INDEX):
    """Inner-product index over unit vectors (= cosine), keyed by our passage ids.

    "flat" is exact; "hnsw" is an approximate graph that pays off from about a million passages.
    """
    faiss = _faiss()
    if check_kind(kind) == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                           np.ascontiguousarray(ids, dtype=np.int64))  # fmt: skip
    return index


def kind_of(index) -> str:
    return (
        "hnsw" if isinstance(_faiss().downcast_index(index.index), _faiss().IndexHNSW) else "flat"
    )


def write_atomic(index, path: Path, fault: str = "during_vector_write") -> None:
    """Save a FAISS index atomically (see write_file_atomically)."""
    faiss = _faiss()
    write_file_atomically(path, lambda temp: faiss.write_index(index, temp), fault=fault)


def write_file_atomically(path: Path, write: Callable[[str], None], fault: str | None = None):
    """`write(temp)` into a temp file in the same folder, fsync, rename, fsync the folder.

    A failure (a full disk: OSError, or RuntimeError from FAISS) leaves the old file intact and
    becomes an IndexWriteError that says so.
    """
    fd, temp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(temp_name)
        if fault:
            kill_point(fault)
        with open(temp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; readers may be other users
        os.replace(temp_name, path)
        fsync_dir(path.parent)
    except (OSError, RuntimeError) as error:
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


def load(
    path: Path,
    dim: int,
    count: int | None,
    kind: str = DEFAULT_VECTOR_INDEX,
    ids: np.ndarray | None = None,
):
    """Read a saved index and check it holds `count` (None: any number of) vectors of `dim` in
    a `kind` index, under ascending passage ids (exactly `ids` when given).

    IndexCorruptError otherwise.
    """
    faiss = _faiss()
    if not path.exists():
        raise IndexCorruptError(f"vector file {path.name} is missing")
    try:
        index = faiss.read_index(str(path))
    except (RuntimeError, MemoryError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise IndexCorruptError(f"vector file {path.name} cannot be read ({first_line})") from None
    if index.d != dim or (count is not None and index.ntotal != count):
        raise IndexCorruptError(
            f"vector file {path.name} holds {index.ntotal} vectors of dimension {index.d}, "
            f"the metadata expects {count} of dimension {dim}"
        )
    if kind_of(index) != kind:
        raise IndexCorruptError(
            f"vector file {path.name} is {kind_of(index)}, the manifest says {kind}"
        )
    # An id that names another passage would quote the wrong paragraph: all must match.
    found = faiss.vector_to_array(index.id_map)
    if np.any(np.diff(found) <= 0) or (ids is not None and not np.array_equal(found, ids)):
        raise IndexCorruptError(
            f"vector file {path.name} holds other passage ids than the database"
        )
    return index


def search(index, query: np.ndarray, n: int, allowed_ids: np.ndarray | None = None):
    """Top-n (ids, scores) for one query vector; `allowed_ids` restricts the search to a subset."""
    if isinstance(index, SegmentedIndex):
        return index.search(query, n, allowed_ids)
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
        n = min(n, len(allowed_ids))
        if kind_of(index) == "hnsw":
            if len(allowed_ids) <= EXACT_FILTER_LIMIT:
                # A graph walk that skips most nodes can miss matches: score the subset exactly.
                scores = vectors_for(index, allowed_ids) @ query[0]
                top = np.argsort(-scores, kind="stable")[:n]
                return allowed_ids[top].astype(np.int64), scores[top].astype(np.float32)
            params = faiss.SearchParametersHNSW(
                sel=faiss.IDSelectorBatch(allowed_ids.astype(np.int64)),
                efSearch=max(HNSW_EF_SEARCH, n),
            )
        else:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids.astype(np.int64)))
    scores, ids = index.search(query, min(n, index.ntotal), params=params)
    keep = ids[0] >= 0  # FAISS pads with -1 when fewer results exist
    return ids[0][keep], scores[0][keep]


def vectors_for(index, ids: np.ndarray) -> np.ndarray:
    """Stored vectors of the given passage ids (for scoring lexical-only candidates exactly)."""
    if isinstance(index, SegmentedIndex):
        return index.reconstruct(ids)
    if not len(ids):
        return np.empty((0, index.d), dtype=np.float32)
    return index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))


class SegmentedIndex:
    """A base and its segments (qa.segments) searched as one index: each part is searched
    (flat: exactly) and the top n merged by score, best first, ties by id. Entries that are
    deleted or changed later must already be removed from the parts (`remove_ids`)."""

    def __init__(self, parts: list) -> None:
        self.parts = list(parts)
        self.part_ids = [_faiss().vector_to_array(p.id_map) for p in self.parts]

    @property
    def ntotal(self) -> int:
        return sum(int(part.ntotal) for part in self.parts)

    @property
    def d(self) -> int:
        return int(self.parts[0].d)

    def search(self, query: np.ndarray, n: int, allowed_ids: np.ndarray | None = None):
        # Ties go to the lower id, whichever part holds them: a few more than n are asked
        # for, as FAISS keeps an arbitrary one of equal scores at the n-th place.
        found_ids, found_scores = [], []
        for part, ids in zip(self.parts, self.part_ids):
            allowed = allowed_ids
            if allowed is not None and len(ids) and len(self.parts) > 1:
                # A small selector per part: a segment holds only recent, high ids.
                allowed = allowed[(allowed >= ids[0]) & (allowed <= ids[-1])]
            found = search(part, query, n + TIE_MARGIN, allowed)
            found_ids.append(found[0])
            found_scores.append(found[1])
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.lexsort((ids, -scores))[: max(n, 0)]
        return ids[order].astype(np.int64), scores[order].astype(np.float32)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        matrix = np.zeros((len(ids), self.d), dtype=np.float32)
        found = np.zeros(len(ids), dtype=bool)
        for part, part_ids in zip(self.parts, self.part_ids):
            if not len(part_ids):
                continue
            at = np.searchsorted(part_ids, ids).clip(0, len(part_ids) - 1)
            hit = part_ids[at] == ids
            if hit.any():
                matrix[hit] = vectors_for(part, ids[hit])
                found |= hit
        if not found.all():
            raise ValueError(f"no vector for passage ids {ids[~found][:5].tolist()}")
        return matrix
