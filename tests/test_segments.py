"""Append-only segments: commits write what changed, searches equal a fully merged index."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import qa.segments
from qa import Index, build_index
from qa.cli import build_parser
from qa.segments import KILL_POINTS, parse_layout
from qa.store import DB_NAME, Reader, connect, read_meta
from qa.text import tokenize
from qa.writer import merge_index

TESTS = Path(__file__).resolve().parent
PHRASES = ["碳排放权交易", "甲烷排放控制", "新能源汽车", "可再生能源", "煤炭消费", "绿色金融",
           "配额清缴", "温室气体", "节能降碳", "电力市场", "氢能产业", "森林碳汇", "核查机构",
           "排放因子", "储能设施", "光伏发电"]  # fmt: skip
QUERIES = ["碳排放权交易配额清缴", "甲烷排放", "氢能产业储能设施", "光伏发电电力市场", "森林"]


@pytest.fixture(autouse=True)
def small_bases(monkeypatch):
    """Segments from the first commit on (real indexes below MIN_BASE passages rewrite)."""
    monkeypatch.setattr(qa.segments, "MIN_BASE", 0)


def write_doc(corpus: Path, number: int, seed: int = 0, title: str | None = None) -> None:
    rng = random.Random(number * 1000 + seed)
    paragraphs = [
        "，".join(rng.sample(PHRASES, 4)) + f"，第{number}号文件第{i}段要求（版本{seed}）。"
        for i in range(3)
    ]
    (corpus / f"doc{number:03d}.md").write_text(
        f"---\ntitle: {title or f'政策文件{number}号'}\ndate: 2024-01-{number % 28 + 1:02d}\n---\n\n"
        + "\n\n".join(paragraphs)
        + "\n",
        encoding="utf-8",
    )


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for number in range(40):  # 120 passages
        write_doc(folder, number)
    return folder


def layout(index_dir: Path):
    conn = connect(index_dir / DB_NAME, readonly=True)
    try:
        return parse_layout(read_meta(conn), index_dir)
    finally:
        conn.close()


def merged_copy(index_dir: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(index_dir, target, ignore=shutil.ignore_patterns("write.lock"))
    merge_index(target)
    assert layout(target).segments == () and layout(target).deleted is None
    return target


def results(index_dir: Path, embedder) -> list:
    """Dense and BM25 hits (ids, scores), unfiltered and filtered, and the fused search."""
    reader, index = Reader(index_dir), Index(index_dir, embedder=embedder)
    found = []
    for query in QUERIES:
        vector = embedder.embed_queries([query])[0]
        for where in (None, reader_filter()):
            ids, scores = reader.dense(vector, 20, where)
            found.append(("dense", ids.tolist(), scores.tolist()))
            hits = reader.lexical(tokenize(query), 20, where)
            found.append(("bm25", [h[0] for h in hits], [h[1] for h in hits]))
        passages = index.search(query, k=8)
        found.append(("fused", [p.passage_id for p in passages], [p.score for p in passages]))
    found.append(("size", [index.size], [len(reader.terms)]))
    found.append(("vocabulary", sorted(reader.terms.vocabulary), []))
    reader.close()
    index.close()
    return found


def reader_filter():
    from qa.store import Filter

    return Filter(date_from="2024-01-05", date_to="2024-01-20")


def assert_same(found: list, expected: list) -> None:
    assert len(found) == len(expected)
    for (kind, ids, scores), (kind_e, ids_e, scores_e) in zip(found, expected):
        assert (kind, ids) == (kind_e, ids_e)
        np.testing.assert_allclose(scores, scores_e, atol=1e-5, rtol=0)


def test_adds_edits_and_deletes_search_like_a_merged_index(
    corpus, tmp_path, fake_embedder, monkeypatch
):
    monkeypatch.setattr(qa.segments, "MAX_SEGMENTS", 12)
    monkeypatch.setattr(qa.segments, "MAX_DEAD_FRACTION", 1.0)
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    # doc900 repeats a paragraph of doc000 (stored once): deleting doc000 later moves that
    # passage to doc900 in place, with new terms (its title).
    shutil.copy(corpus / "doc000.md", corpus / "doc900.md")
    text = (corpus / "doc900.md").read_text("utf-8").replace("政策文件0号", "转载汇编")
    (corpus / "doc900.md").write_text(text.replace("第0号文件第1段", "转载第1段"), "utf-8")
    steps = [
        lambda: write_doc(corpus, 100),  # add
        lambda: write_doc(corpus, 3, seed=1),  # edit: new paragraphs
        lambda: (corpus / "doc005.md").unlink(),  # delete
        lambda: write_doc(corpus, 7, title="更名后的文件"),  # edit: every passage changes
        lambda: (corpus / "doc000.md").unlink(),  # delete; a duplicate is promoted in place
        lambda: [write_doc(corpus, n) for n in (101, 102)],
        lambda: write_doc(corpus, 100, seed=2),
        lambda: (corpus / "doc101.md").unlink(),
        lambda: write_doc(corpus, 11, seed=3),
        lambda: write_doc(corpus, 103),
        lambda: write_doc(corpus, 12, seed=4),
        lambda: write_doc(corpus, 104),
        lambda: write_doc(corpus, 13, seed=5),
        lambda: write_doc(corpus, 105),
    ]
    for change in steps:
        change()
        build_index([corpus], index_dir, embedder=fake_embedder)
        assert layout(index_dir).base == 1  # never rewritten
        expected = results(merged_copy(index_dir, tmp_path / "merged"), fake_embedder)
        assert_same(results(index_dir, fake_embedder), expected)
    # 14 commits, two of them deletions only: 12 segments and a deletion set.
    assert len(layout(index_dir).segments) == 12
    assert layout(index_dir).deleted is not None
    assert (6, 2) in layout(index_dir).segments  # the two promoted passages, re-indexed


def test_a_commit_writes_only_the_new_passages(corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    base = {p.name: p.stat().st_mtime_ns for p in index_dir.glob("*-000001.*")}
    write_doc(corpus, 100)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert {p.name: p.stat().st_mtime_ns for p in index_dir.glob("*-000001.*")} == base
    assert layout(index_dir).segments == ((2, 3),)
    assert {p.name for p in index_dir.iterdir()} - {DB_NAME, "write.lock", "index.sqlite-wal",
        "index.sqlite-shm"} == {*base, "segment-000002.faiss", "segment-000002.npz"}  # fmt: skip


def test_merges_past_ten_segments_past_ten_percent_deleted_and_on_demand(
    corpus, tmp_path, fake_embedder
):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    for number in range(100, 110):
        write_doc(corpus, number)
        build_index([corpus], index_dir, embedder=fake_embedder)
    assert len(layout(index_dir).segments) == 10
    write_doc(corpus, 110)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert layout(index_dir) == qa.segments.Layout(base=12, base_passages=153)
    assert sorted(p.name for p in index_dir.glob("*.faiss")) == ["vectors-000012.faiss"]

    (corpus / "doc000.md").unlink()  # 3 of 153: a deletion set
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert layout(index_dir).deleted == 13
    for number in range(1, 6):  # 18 of 153 > 10%: merged
        (corpus / f"doc{number:03d}.md").unlink()
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert layout(index_dir) == qa.segments.Layout(base=14, base_passages=135)

    write_doc(corpus, 200)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert len(layout(index_dir).segments) == 1
    assert build_parser().parse_args(["--merge"]).merge
    assert merge_index(index_dir) == 16
    assert layout(index_dir) == qa.segments.Layout(base=16, base_passages=138)
    assert not list(index_dir.glob("segment-*")) and not list(index_dir.glob("deleted-*"))


def test_hnsw_and_switched_off_segments_rewrite_the_base(
    corpus, tmp_path, fake_embedder, monkeypatch
):
    index_dir = tmp_path / "hnsw"
    build_index([corpus], index_dir, embedder=fake_embedder, vector_index="hnsw")
    write_doc(corpus, 100)
    build_index([corpus], index_dir, embedder=fake_embedder)
    assert layout(index_dir) == qa.segments.Layout(base=2, base_passages=123)
    monkeypatch.setenv("QA_INDEX_SEGMENTS", "off")
    build_index([corpus], tmp_path / "off", embedder=fake_embedder)
    write_doc(corpus, 101)
    build_index([corpus], tmp_path / "off", embedder=fake_embedder)
    assert layout(tmp_path / "off").segments == ()


def test_a_reader_open_across_commits_sees_each_generation(corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    index = Index(index_dir, embedder=fake_embedder)
    assert index.size == 120
    base = index._reader._parts.vectors["vectors-000001.faiss"][0]
    for step, number in enumerate(range(100, 104)):
        write_doc(corpus, number)
        (corpus / f"doc{step:03d}.md").unlink()
        build_index([corpus], index_dir, embedder=fake_embedder)
        assert index.size == 120
        assert index._reader.generation == step + 2
        docs = {d["doc_id"] for d in index.documents()}
        assert f"doc{number:03d}.md" in docs and f"doc{step:03d}.md" not in docs
        found = index.search(f"第{number}号文件第1段", k=3, mode="lexical")
        assert found[0].doc_id == f"doc{number:03d}.md"
        gone = {p.doc_id for p in index.search(f"第{step}号文件第1段", k=50)}
        assert f"doc{step:03d}.md" not in gone
    # The base was loaded once; its deleted entries were taken out in memory.
    assert index._reader._parts.vectors["vectors-000001.faiss"][0] is base
    assert base.ntotal == 120 - 4 * 3
    assert not index._reader.repaired


def test_damaged_segment_is_served_from_sqlite(corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    write_doc(corpus, 100)
    build_index([corpus], index_dir, embedder=fake_embedder)
    expected = [p.passage_id for p in Index(index_dir, embedder=fake_embedder).search("氢能", k=8)]
    (index_dir / "segment-000002.npz").write_bytes(b"PK\x03\x04" * 64)
    index = Index(index_dir, embedder=fake_embedder)
    assert [p.passage_id for p in index.search("氢能", k=8)] == expected
    assert index._reader.repaired


BUILD_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from fakes import FakeEmbedder
    import qa.segments
    qa.segments.MIN_BASE = 0
    qa.segments.MAX_SEGMENTS = {max_segments}
    from qa import build_index
    build_index([{corpus!r}], {index!r}, embedder=FakeEmbedder())
    """
)


MERGE_POINTS = ("during_vector_write", "before_metadata_commit", "before_stale_cleanup")


@pytest.mark.parametrize(
    "mode, point",
    [("segment", p) for p in (*KILL_POINTS, "before_metadata_commit")]
    + [("merge", p) for p in MERGE_POINTS],
)
def test_sigkill_at_each_point_keeps_the_last_committed_generation(
    corpus, tmp_path, fake_embedder, mode, point
):
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=fake_embedder)
    write_doc(corpus, 100)
    build_index([corpus], index_dir, embedder=fake_embedder)  # one segment already
    before = results(index_dir, fake_embedder)
    (corpus / "doc001.md").unlink()
    write_doc(corpus, 101)
    script = BUILD_SCRIPT.format(tests=str(TESTS), corpus=str(corpus), index=str(index_dir),
                                 max_segments=10 if mode == "segment" else 0)  # fmt: skip
    env = {**os.environ, "QA_FAULT_KILL_AT": point}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    committed = point == "before_stale_cleanup"  # killed after the commit, before the cleanup
    docs = {d["doc_id"] for d in Index(index_dir, embedder=fake_embedder).documents()}
    assert ("doc101.md" in docs, "doc001.md" in docs) == (committed, not committed)
    expected = results(merged_copy(index_dir, tmp_path / "merged"), fake_embedder)
    assert_same(results(index_dir, fake_embedder), expected)
    if not committed:
        assert_same(results(index_dir, fake_embedder), before)
    assert not Index(index_dir, embedder=fake_embedder)._reader.repaired

    env["QA_FAULT_KILL_AT"] = ""
    finished = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    write_doc(corpus, 102)  # a later commit removes what the killed one left behind
    build_index([corpus], index_dir, embedder=fake_embedder)
    named = layout(index_dir).files()
    left = {p.name for p in index_dir.iterdir() if p.suffix in (".faiss", ".npz", ".npy", ".tmp")}
    assert left == named
    assert_same(
        results(index_dir, fake_embedder),
        results(merged_copy(index_dir, tmp_path / "merged"), fake_embedder),
    )


def test_the_commit_set_arithmetic_equals_numpys_set_operations():
    """segments.append finds added and gone ids by binary search; numpy's set operations are
    the reference."""
    rng = np.random.default_rng(15)
    for _ in range(300):
        committed, ids = (np.unique(rng.integers(0, 300, rng.integers(0, 200))) for _ in "ab")
        changed = np.unique(rng.integers(0, 300, rng.integers(0, 30)))
        found = changed[qa.segments._within(changed, committed) & qa.segments._within(changed, ids)]
        added = np.union1d(ids[~qa.segments._within(ids, committed)], found)
        gone = committed[~qa.segments._within(committed, ids)]
        expected_added = np.union1d(
            np.setdiff1d(ids, committed), np.intersect1d(np.intersect1d(changed, committed), ids)
        )
        assert np.array_equal(added, expected_added)
        assert np.array_equal(gone, np.setdiff1d(committed, ids))
