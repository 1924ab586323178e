"""Append-only segments: a commit costs what it changed, not the size of the index.

A committed generation's derived files are
    vectors-<B>.faiss, terms-<B>.npz     the base: every passage as of generation B
    segment-<G>.faiss, segment-<G>.npz   a segment: the passages added (or changed in place)
                                         by the commit of generation G > B
    deleted-<G>.npy                      the ids of passages removed since the base
and the meta table names them (base_generation, base_passages, segments = "G:count …",
deleted = G or ""). An id's entry in the newest part that holds it is the live one, unless the
id is deleted; everything else is a dead entry. The writer merges (rewrites one base from
SQLite) when there would be more than MAX_SEGMENTS segments or more dead entries than
MAX_DEAD_FRACTION of the base, on demand (`index_build.py --merge`), for HNSW indexes (a graph
has no cheap removal, so each commit rewrites it), and for indexes under MIN_BASE passages (a
full rewrite takes milliseconds there). QA_INDEX_SEGMENTS=off makes every commit a merge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import lexical, vectors
from qa.errors import IndexCorruptError, corrupt_error
from qa.integrity import whole_number

MAX_SEGMENTS = 10
MAX_DEAD_FRACTION = 0.10
MIN_BASE = 500  # passages
# Crash points of a segment commit (qa.faults); a merge passes the ones of a full rewrite.
KILL_POINTS = ("during_segment_write", "during_deletion_write", "before_stale_cleanup")
PATTERNS = ("vectors-*.faiss*", "terms-*.npz*", "segment-*", "deleted-*")


def vector_file(generation: int) -> str:
    return f"vectors-{generation:06d}.faiss"


def terms_file(generation: int) -> str:
    return f"terms-{generation:06d}.npz"


def segment_files(generation: int) -> tuple[str, str]:
    return f"segment-{generation:06d}.faiss", f"segment-{generation:06d}.npz"


def deleted_file(generation: int) -> str:
    return f"deleted-{generation:06d}.npy"


def enabled() -> bool:
    return os.environ.get("QA_INDEX_SEGMENTS", "on").strip().lower() not in ("off", "0", "no")


@dataclass(frozen=True)
class Layout:
    """The derived files of one generation (see the module docstring)."""

    base: int
    base_passages: int | None  # None: an index written before segments (not counted)
    segments: tuple[tuple[int, int], ...] = ()  # (generation, passages), oldest first
    deleted: int | None = None

    def parts(self) -> list[tuple[str, str, int | None]]:
        """(vector file, terms file, passages) of the base, then of each segment."""
        found = [(vector_file(self.base), terms_file(self.base), self.base_passages)]
        return found + [(*segment_files(g), count) for g, count in self.segments]

    def files(self) -> set[str]:
        names = {name for part in self.parts() for name in part[:2]}
        return names | ({deleted_file(self.deleted)} if self.deleted is not None else set())

    def entries(self) -> int:
        return (self.base_passages or 0) + sum(count for _, count in self.segments)

    def meta(self) -> dict[str, str]:
        return {
            "base_generation": str(self.base),
            "base_passages": str(self.base_passages or 0),
            "segments": " ".join(f"{g}:{count}" for g, count in self.segments),
            "deleted": "" if self.deleted is None else str(self.deleted),
        }


def parse_layout(meta: dict[str, str], index_dir: Path) -> Layout:
    """The layout the manifest names; IndexCorruptError naming a malformed field."""
    generation = whole_number(meta.get("generation"), "generation", index_dir)
    if "base_generation" not in meta:  # written before segments: the base is everything
        return Layout(base=generation, base_passages=None)
    segments = []
    for item in meta.get("segments", "").split():
        number, _, count = item.partition(":")
        segments.append((whole_number(number, "segments", index_dir),
                         whole_number(count, "segments", index_dir)))  # fmt: skip
    deleted = meta.get("deleted", "").strip()
    return Layout(
        base=whole_number(meta["base_generation"], "base_generation", index_dir),
        base_passages=whole_number(meta.get("base_passages"), "base_passages", index_dir),
        segments=tuple(segments),
        deleted=whole_number(deleted, "deleted", index_dir) if deleted else None,
    )


def passage_ids(conn) -> np.ndarray:
    """Every passage id, ascending (one string from SQLite: a row per id costs ~0.5 s at 1M)."""
    joined = conn.execute("SELECT group_concat(id) FROM passages").fetchone()[0]
    return np.sort(np.array(joined.split(",") if joined else [], dtype=np.int64))


def load_deleted(index_dir: Path, layout: Layout) -> np.ndarray:
    if layout.deleted is None:
        return np.empty(0, dtype=np.int64)
    path = index_dir / deleted_file(layout.deleted)
    try:
        ids = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise IndexCorruptError(f"deletion file {path.name} is missing") from None
    except (OSError, ValueError, EOFError) as error:
        raise IndexCorruptError(f"deletion file {path.name} cannot be read ({error})") from None
    if ids.ndim != 1 or ids.dtype != np.int64:
        raise IndexCorruptError(f"deletion file {path.name} does not hold passage ids")
    return ids


def live_masks(part_ids: list[np.ndarray], deleted: np.ndarray, expected: np.ndarray,
               what: str) -> list[np.ndarray]:  # fmt: skip
    """Which entries of each part (base first) are live; IndexCorruptError unless the live
    ids are exactly `expected` (the database's passage ids, ascending)."""
    masks: list[np.ndarray] = [np.empty(0, dtype=bool)] * len(part_ids)
    newer = deleted
    for i in reversed(range(len(part_ids))):
        masks[i] = ~np.isin(part_ids[i], newer)
        newer = np.concatenate([newer, part_ids[i]])
    live = np.concatenate([ids[m] for ids, m in zip(part_ids, masks)] or [expected[:0]])
    if not np.array_equal(np.sort(live), expected):
        raise IndexCorruptError(f"the {what} files name other passage ids than the database")
    return masks


class PartCache:
    """Loaded parts by file name: a new generation loads only its new files. Vector parts
    lose their dead entries in place (faiss remove_ids), which only grow until a merge."""

    def __init__(self) -> None:
        self.vectors: dict[str, tuple[object, np.ndarray]] = {}  # name → (index, ids in file)
        self.terms: dict[str, lexical.Postings] = {}

    def load_vectors(self, index_dir: Path, layout: Layout, dim: int, kind: str,
                     expected: np.ndarray, deleted: np.ndarray):  # fmt: skip
        """A SegmentedIndex of the layout; IndexCorruptError when a file is damaged."""
        loaded = []
        for name, _, count in layout.parts():
            cached = self.vectors.get(name)
            if cached is None:
                index = vectors.load(index_dir / name, dim, count, kind)
                cached = (index, vectors._faiss().vector_to_array(index.id_map))
            loaded.append((name, *cached))
        masks = live_masks([ids for *_, ids in loaded], deleted, expected, "vector")
        # Only now, with every part checked, are cached parts changed.
        parts, self.vectors = [], {}
        for (name, index, ids), mask in zip(loaded, masks):
            present = vectors._faiss().vector_to_array(index.id_map)
            dead = np.isin(present, ids[~mask])
            if len(present) - int(dead.sum()) != int(mask.sum()):  # not a later state: reload
                index = vectors.load(index_dir / name, dim, len(ids), kind)
                present = ids
                dead = ~mask
            if dead.any():
                index.remove_ids(np.ascontiguousarray(present[dead], dtype=np.int64))
            self.vectors[name] = (index, ids)
            parts.append(index)
        return vectors.SegmentedIndex(parts)

    def load_terms(self, index_dir: Path, layout: Layout, expected: np.ndarray,
                   deleted: np.ndarray) -> lexical.LexicalIndex:  # fmt: skip
        parts = [
            self.terms.get(name) or lexical.load(index_dir / name, count)
            for _, name, count in layout.parts()
        ]
        masks = live_masks([p.ids for p in parts], deleted, expected, "term")
        self.terms = {name: part for (_, name, _), part in zip(layout.parts(), parts)}
        return lexical.LexicalIndex(parts, masks)


def append(conn, index_dir: Path, meta: dict[str, str], generation: int, ids: np.ndarray,
           committed: np.ndarray, touched: set[int], dim: int, written: list[Path]) -> Layout | None:  # fmt: skip
    """Write a segment of the passages added or changed (`touched`) since the committed ids,
    and the deletion set; the new layout, or None when the commit should merge instead.
    The paths written are added to `written` (removed by the caller on a failure)."""
    try:
        layout = parse_layout(meta, index_dir)
        if layout.base_passages is None or not all(
            (index_dir / name).exists() for name in layout.files()
        ):
            return None  # written before segments, or damaged: a merge writes it anew
        deleted = load_deleted(index_dir, layout)
    except IndexCorruptError:
        return None
    changed = np.unique(np.fromiter(touched, dtype=np.int64, count=len(touched)))
    changed = changed[_within(changed, committed) & _within(changed, ids)]
    added = np.union1d(ids[~_within(ids, committed)], changed)
    gone = committed[~_within(committed, ids)]
    parts = layout.segments + (((generation, len(added)),) if len(added) else ())
    dead = layout.entries() + len(added) - len(ids)
    if len(parts) > MAX_SEGMENTS or dead > MAX_DEAD_FRACTION * (layout.base_passages or 0):
        return None
    if len(added):
        written += [index_dir / name for name in segment_files(generation)]
        write_segment(conn, index_dir, generation, added, dim)
    deleted_generation = layout.deleted
    if len(gone):
        written.append(index_dir / deleted_file(generation))
        write_deleted(index_dir, generation, np.union1d(deleted, gone))
        deleted_generation = generation
    return Layout(layout.base, layout.base_passages, parts, deleted_generation)


def _within(values: np.ndarray, ascending: np.ndarray) -> np.ndarray:
    """Which of `values` occur in the ascending array: a binary search each, where numpy's set
    operations sort or hash both sides (~40 ms a commit at 100k passages)."""
    if not len(ascending):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(ascending, values).clip(0, len(ascending) - 1)
    return ascending[at] == values


def write_segment(conn, index_dir: Path, generation: int, ids: np.ndarray, dim: int) -> None:
    """The segment files of the passages `ids` (ascending), atomically."""
    rows = []
    for start in range(0, len(ids), 500):
        batch = [int(i) for i in ids[start : start + 500]]
        rows += conn.execute(
            f"SELECT id, vector FROM passages WHERE id IN ({','.join('?' * len(batch))}) "
            "ORDER BY id",
            batch,
        ).fetchall()
    try:
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(-1, dim)
    except (TypeError, ValueError) as error:
        raise corrupt_error(index_dir, f"a stored vector is damaged ({error})") from None
    found = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    vector_name, terms_name = segment_files(generation)
    lexical.write_atomic(lexical.postings(conn, found), index_dir / terms_name)
    vectors.write_atomic(
        vectors.build(found, matrix, dim, "flat"), index_dir / vector_name, "during_segment_write"
    )


def write_deleted(index_dir: Path, generation: int, ids: np.ndarray) -> None:
    def write(temp_name: str) -> None:
        with open(temp_name, "wb") as handle:  # a name would get ".npy" appended
            np.save(handle, np.ascontiguousarray(ids, dtype=np.int64))

    vectors.write_file_atomically(
        index_dir / deleted_file(generation), write, fault="during_deletion_write"
    )


def remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Delete the derived files (and temp files) no committed generation names any more."""
    for pattern in PATTERNS:
        for stale in index_dir.glob(pattern):
            if stale.name not in keep:
                stale.unlink(missing_ok=True)
