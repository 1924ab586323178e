"""Index builds: incremental by content hash, atomic, and safe with bad input."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import MARKET
from fakes import FakeEmbedder

from qa import Index, build_index, remove_documents
from qa.errors import (
    EmptyBuildError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    ModelMismatchError,
)
from qa.writer import Writer


def _build(corpus, index_dir, embedder, **kwargs):
    return build_index([corpus], index_dir, embedder=embedder, **kwargs)


def test_first_build_then_noop(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.added, report.documents, report.embedded) == (3, 3, report.passages)
    assert report.passages == 8
    assert report.summary().startswith(
        "3 documents (3 added, 0 updated, 0 removed, 0 unchanged) · 8 paragraphs · embedded 8 in"
    )
    fake_embedder.embedded.clear()
    again = _build(tiny_corpus, index_dir, fake_embedder)
    assert (again.unchanged, again.embedded, fake_embedder.embedded) == (3, 0, [])
    assert sorted(p.name for p in index_dir.glob("vectors-*.faiss")) == ["vectors-000001.faiss"]


def test_editing_one_paragraph_reembeds_only_it(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    fake_embedder.embedded.clear()
    edited = MARKET.replace("可以根据国家有关要求适时引入有偿分配", "逐步扩大有偿分配比例")
    (tiny_corpus / "market.md").write_text(edited, encoding="utf-8")
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.updated, report.unchanged, report.embedded, report.passages) == (1, 2, 1, 8)
    assert len(fake_embedder.embedded) == 1 and "逐步扩大有偿分配比例" in fake_embedder.embedded[0]
    hits = Index(index_dir, embedder=fake_embedder).search("有偿分配比例", k=1)
    assert "逐步扩大有偿分配比例" in hits[0].text


def test_inserting_a_paragraph_renumbers_without_reembedding(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    fake_embedder.embedded.clear()
    inserted = MARKET.replace(
        "---\n\n", "---\n\n新增的第一段说明配额管理的总体原则和适用范围。\n\n", 1
    )
    (tiny_corpus / "market.md").write_text(inserted, encoding="utf-8")
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.embedded, report.passages) == (1, 9)
    passages = Index(index_dir, embedder=fake_embedder).search("未按时足额清缴碳排放配额", k=1)
    assert passages[0].paragraph == 3  # was 2 before the insertion


def test_deleting_a_file_removes_its_passages(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    (tiny_corpus / "news.html").unlink()
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.removed, report.documents, report.passages) == (1, 2, 6)
    index = Index(index_dir, embedder=fake_embedder)
    assert all(p.doc_id != "news.html" for p in index.search("新能源公交车", k=10))


def test_remove_by_doc_id_and_unknown_id(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    report = remove_documents(["market.md"], index_dir)
    assert (report.removed, report.documents) == (1, 2)
    with pytest.raises(Exception, match="no document 'nope.md'.*--list"):
        remove_documents(["nope.md"], index_dir)


def test_documents_from_other_corpora_are_kept(tiny_corpus, seed_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    build_index([tiny_corpus, seed_corpus], index_dir, embedder=fake_embedder)
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.removed, report.documents) == (0, 4)


def test_duplicate_copy_is_skipped_with_both_names(tiny_corpus, tmp_path, fake_embedder):
    (tiny_corpus / "copy.md").write_bytes((tiny_corpus / "market.md").read_bytes())
    report = _build(tiny_corpus, tmp_path / "index", fake_embedder)
    assert report.documents == 3
    [warning] = report.warnings
    assert "same text as" in warning and "market.md" in warning and "copy.md" in warning


def test_bad_files_are_skipped_and_the_rest_indexed(tiny_corpus, tmp_path, fake_embedder):
    (tiny_corpus / "bad.md").write_text("---\n- a\n- b\n---\n正文。\n", encoding="utf-8")
    (tiny_corpus / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = _build(tiny_corpus, tmp_path / "index", fake_embedder)
    assert report.documents == 3
    assert any("bad.md" in w and "mapping" in w for w in report.warnings)
    assert any("binary.txt" in w and "binary" in w for w in report.warnings)


def test_build_with_nothing_usable_leaves_index_untouched(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    for path in tiny_corpus.iterdir():
        path.write_bytes(b"\x00binary\x00")
    with pytest.raises(EmptyBuildError, match="no usable documents.*left as it was"):
        _build(tiny_corpus, index_dir, fake_embedder)
    assert Index(index_dir, embedder=fake_embedder).size == 8


def test_model_mismatch_is_refused_and_rebuild_switches(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    other = FakeEmbedder(dim=32, model_id="other-model")
    with pytest.raises(ModelMismatchError, match="built with fake-bigram-hash.*--rebuild"):
        _build(tiny_corpus, index_dir, other)
    with pytest.raises(ModelMismatchError):
        Index(index_dir, embedder=other)
    report = _build(tiny_corpus, index_dir, other, rebuild=True)
    assert (report.added, report.embedded) == (3, 8)
    assert Index(index_dir, embedder=other).dim == 32


def test_second_writer_fails_fast(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    with Writer(index_dir, fake_embedder.model_id, fake_embedder.dim):
        with pytest.raises(IndexBusyError, match="another build is writing"):
            _build(tiny_corpus, index_dir, fake_embedder)
    assert _build(tiny_corpus, index_dir, fake_embedder).documents == 3


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexMissingError, match="index_build.py"):
        Index(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["truncate", "zero", "random", "delete"])
def test_damaged_vector_file_is_repaired_from_sqlite(tiny_corpus, tmp_path, fake_embedder, damage):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    expected = Index(index_dir, embedder=fake_embedder).search("甲烷回收利用", k=3)
    [vector_file] = index_dir.glob("vectors-*.faiss")
    data = vector_file.read_bytes()
    if damage == "delete":
        vector_file.unlink()
    else:
        damaged = {
            "truncate": data[: len(data) // 2],
            "zero": b"",
            "random": bytes(range(256)) * 8,
        }[damage]
        vector_file.write_bytes(damaged)
    index = Index(index_dir, embedder=fake_embedder)
    assert index.search("甲烷回收利用", k=3) == expected
    assert index._reader.repaired


def test_damaged_database_gives_rebuild_advice(tiny_corpus, tmp_path, fake_embedder):
    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    db = index_dir / "index.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.write_bytes(b"not a database" * 100)
    with pytest.raises(IndexCorruptError, match=r"corrupt.*index_build.py --rebuild"):
        Index(index_dir, embedder=fake_embedder)


def test_counts_that_disagree_are_detected(tiny_corpus, tmp_path, fake_embedder):
    from qa import vectors
    from qa.store import vector_file

    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    with pytest.raises(IndexCorruptError, match="holds 8 vectors.*expects 7"):
        vectors.load(index_dir / vector_file(1), fake_embedder.dim, 7)


def test_unknown_corpus_folder(tmp_path, fake_embedder):
    with pytest.raises(Exception, match="does not exist"):
        build_index([tmp_path / "missing"], tmp_path / "index", embedder=fake_embedder)


def test_policy_corpus_builds(policy_corpus, tmp_path, fake_embedder):
    report = build_index([policy_corpus], tmp_path / "index", embedder=fake_embedder)
    assert (report.documents, report.warnings) == (9, [])
    assert report.passages > 400


def test_pipeline_change_rereads_files_but_keeps_vectors(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch
):
    import qa.build

    index_dir = tmp_path / "index"
    _build(tiny_corpus, index_dir, fake_embedder)
    monkeypatch.setattr(qa.build, "PIPELINE_VERSION", "test-next")
    fake_embedder.embedded.clear()
    report = _build(tiny_corpus, index_dir, fake_embedder)
    assert (report.unchanged, report.updated, report.embedded, report.passages) == (3, 0, 0, 8)
    assert sorted(p.name for p in index_dir.glob("vectors-*.faiss")) == ["vectors-000002.faiss"]


def test_a_build_keeps_the_model_the_index_was_built_with(
    tiny_corpus, tmp_path, fake_embedder, monkeypatch
):
    from qa.build import model_for

    index_dir = tmp_path / "index"
    assert model_for(index_dir) is None  # no index yet: the default
    _build(tiny_corpus, index_dir, fake_embedder)
    assert model_for(index_dir) == fake_embedder.model_id
    assert model_for(index_dir, "other-model") == "other-model"
    assert model_for(index_dir, rebuild=True) is None  # --rebuild moves to the default
    monkeypatch.setenv("QA_EMBED_MODEL", "from-the-environment")
    assert model_for(index_dir) is None  # load_embedder reads the variable
