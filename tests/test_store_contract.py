"""The store contract, run against both implementations: the local index folder and Milvus (through
Milvus Lite, a local file). Every write goes through the same path users take (build_index /
remove_documents with QA_STORE set); every read through the Store interface or Index."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from qa import Index, build_index
from qa.build import remove_documents
from qa.errors import IndexCorruptError, IndexMissingError, ModelMismatchError
from qa.store_base import Filter
from qa.stores import STORE_ENV, open_store

OLD_RULES = """---
title: 配额清缴管理办法
date: 2020-12-31
issuer: 生态环境部
doc_number: 生态环境部令第19号
---

第一条　为了规范全国碳排放权交易市场的配额清缴活动，制定本办法。

第二条　重点排放单位应当在规定时限内按时足额清缴上年度的碳排放配额。

第三条　未按时足额清缴的，处一万元以上三万元以下的罚款。
"""

NEW_RULES = """---
title: 配额清缴管理条例
date: 2024-02-04
issuer: 国务院
doc_number: 国务院令第775号
---

第一条　为了规范全国碳排放权交易市场的配额清缴活动，制定本条例。

第二条　重点排放单位有下列情形之一的，责令改正，处五十万元以上二百万元以下的罚款：

（一）未按照规定清缴配额；

（二）篡改、伪造排放数据。

第三条　本条例自2024年5月1日起施行。《配额清缴管理办法》同时废止。
"""

PLAN = """---
title: 甲烷排放控制要点
date: 2023-11-07
issuer: 生态环境部
---

# 甲烷排放控制要点

## 一、主要目标

到2025年，甲烷排放控制政策、技术和标准体系逐步建立，甲烷排放统计核算能力有效提升。

## 二、重点任务

加强煤矿瓦斯抽采利用，推进油气田甲烷泄漏检测与修复。

鼓励企业开展甲烷回收利用，支持甲烷减排项目参与自愿减排交易。
"""

NEWS = """---
title: 甲烷控制新闻
date: 2023-11-08
source: https://news.example.cn/methane
---

鼓励企业开展甲烷回收利用，支持甲烷减排项目参与自愿减排交易。

记者了解到，多地生态环境部门正在编制本地区的甲烷排放清单。
"""

QUERIES = ["未按时足额清缴配额怎么处罚", "甲烷排放控制的主要目标", "煤矿瓦斯抽采", "甲烷排放清单"]


@pytest.fixture(params=["local", "milvus"])
def backend(request, tmp_path, monkeypatch):
    """(open, uri): `open()` gives the store under test; with Milvus, QA_STORE is set, so that
    every build and removal syncs to it."""
    uri = None
    if request.param == "milvus":
        pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
        uri = f"milvus://{tmp_path / 'milvus.db'}"
        monkeypatch.setenv(STORE_ENV, uri)
    else:
        monkeypatch.delenv(STORE_ENV, raising=False)
    return uri


def write_corpus(folder: Path, **texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def built(tmp_path, backend):
    corpus = write_corpus(tmp_path / "corpus", old=OLD_RULES, new=NEW_RULES, plan=PLAN, news=NEWS)
    index_dir = tmp_path / "index"
    report = build_index([corpus], index_dir, embedder=FakeEmbedder())
    assert bool(report.synced) == (backend is not None)
    return corpus, index_dir


def store_of(index_dir: Path):
    return open_store(index_dir)  # QA_STORE decides, as it does for the app


def texts(rows) -> list[str]:
    return [r["text"] for r in rows]


def test_dense_and_lexical_search_with_exact_vectors(built):
    _, index_dir = built
    store, embedder = store_of(index_dir), FakeEmbedder()
    assert (store.model_id, store.dim, store.count()) == ("fake-bigram-hash", 64, 10)
    vector = embedder.embed_queries(["煤矿瓦斯抽采利用"])[0]
    ids, scores = store.dense(vector, 3)
    assert len(ids) == 3 and list(scores) == sorted(scores, reverse=True)
    assert "煤矿瓦斯抽采" in store.fetch(ids[:1])[ids[0]]["text"]
    # The stored vector is the one the dense search scored.
    np.testing.assert_allclose(store.vectors(ids[:1])[0] @ vector, scores[0], atol=1e-5)
    hits = store.lexical(["甲烷", "排放", "清单"], 5)
    assert hits and "甲烷排放清单" in store.fetch([hits[0][0]])[hits[0][0]]["text"]
    assert store.lexical([], 5) == []
    store.close()


def test_filters_are_pushed_down(built):
    _, index_dir = built
    store, vector = store_of(index_dir), FakeEmbedder().embed_queries(["配额清缴的罚款"])[0]

    def docs(where: Filter) -> set[str]:
        ids, _ = store.dense(vector, 20, where)
        ids = [*ids, *(pid for pid, _ in store.lexical(["配额", "清缴", "罚款"], 20, where))]
        return {row["doc_id"] for row in store.fetch(ids).values()}

    assert docs(Filter()) == {"old.md", "new.md", "plan.md", "news.md"}
    assert docs(Filter(docs=("plan.md",))) == {"plan.md"}
    assert docs(Filter(date_from="2023-11-08")) == {"new.md", "news.md"}
    assert docs(Filter(date_to="2020-12-31")) == {"old.md"}
    # The newer 条例 repeals the 办法: in force only leaves it out.
    assert "old.md" not in docs(Filter(in_force=True))
    assert store.authorities()["old.md"].status == "已废止"
    store.close()


def test_structure_lookups(built):
    _, index_dir = built
    store = store_of(index_dir)
    article = store.provision("new.md", "第二条")  # the lead-in with its short items
    assert len(article) == 1 and article[0]["article"] == "第二条"
    assert "处五十万元以上二百万元以下" in article[0]["text"] and "（二）篡改" in article[0]["text"]
    assert sorted(store.with_article("第三条")) == ["new.md", "old.md"]
    section = store.section("plan.md", "二、重点任务")
    assert len(section) == 1 and "煤矿瓦斯" in section[0]["text"]
    assert section[0]["section"] == "二、重点任务"
    assert ("plan.md", "一、主要目标") in store.sections()
    after = store.following("new.md", 1, 5)
    assert [r["article"] for r in after] == ["第二条", "第三条"]
    assert [r["paragraph"] for r in store.following("new.md", 1, 1)] == [2]
    assert {d["doc_id"] for d in store.documents()} == {"old.md", "new.md", "plan.md", "news.md"}
    assert store.documents()[0]["doc_id"] == "new.md"  # newest first
    assert {t["doc_id"]: t["title"] for t in store.titles()}["plan.md"] == "甲烷排放控制要点"
    held = store.term_counts(["甲烷", "瓦斯", "碳税"], 1)
    assert {token for token, count in held.items() if count} == {"甲烷", "瓦斯"}
    counts = store.term_counts(["甲烷", "瓦斯", "碳税"], 50)
    assert counts["碳税"] == 0 and 0 < counts["瓦斯"] < counts["甲烷"]
    assert store.term_counts(["甲烷"], 1) == {"甲烷": 1}  # counted up to the cap only
    store.close()


def test_a_paragraph_two_documents_carry_is_stored_once_and_cited_for_both(built):
    _, index_dir = built
    index = Index(index_dir, embedder=FakeEmbedder())
    hits = index.search("鼓励企业开展甲烷回收利用", k=3)
    first = hits[0]
    assert "甲烷回收利用" in first.text
    copies = {c.doc_id for c in first.also_published_by}
    assert {first.doc_id, *copies} == {"plan.md", "news.md"}
    index.close()


def test_search_and_citations_are_the_same_on_both_stores(tmp_path, monkeypatch):
    """Same fused ranking over Milvus as over the local folder it was synced from (the BM25
    analyzers differ, so scores may; the passages found first must not)."""
    pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
    corpus = write_corpus(tmp_path / "corpus", old=OLD_RULES, new=NEW_RULES, plan=PLAN, news=NEWS)
    uri = f"milvus://{tmp_path / 'milvus.db'}"
    monkeypatch.setenv(STORE_ENV, uri)
    build_index([corpus], tmp_path / "index", embedder=FakeEmbedder())
    monkeypatch.delenv(STORE_ENV)
    local = Index(tmp_path / "index", embedder=FakeEmbedder())
    milvus = Index(tmp_path / "index", embedder=FakeEmbedder(), store=uri)
    for query in QUERIES:
        expected, found = local.search(query, k=2), milvus.search(query, k=2)
        assert [(p.doc_id, p.paragraph, p.citation, p.also_published_by) for p in found] == [
            (p.doc_id, p.paragraph, p.citation, p.also_published_by) for p in expected
        ]
    local.close()
    milvus.close()


def test_an_edit_upserts_only_what_changed_and_a_removal_deletes(built, backend):
    corpus, index_dir = built
    store = store_of(index_dir)
    plan = (corpus / "plan.md").read_text("utf-8")
    (corpus / "plan.md").write_text(plan.replace("逐步建立", "基本建立"), encoding="utf-8")
    report = build_index([corpus], index_dir, embedder=FakeEmbedder())
    if backend:
        assert "1 passages written, 1 deleted, 9 unchanged" in report.synced
    store.refresh()
    goals = store.section("plan.md", "一、主要目标")
    assert len(goals) == 1 and "基本建立" in goals[0]["text"]
    remove_documents(["news.md"], index_dir)
    store.refresh()
    assert "news.md" not in {d["doc_id"] for d in store.documents()}
    ids, _ = store.dense(FakeEmbedder().embed_queries(["甲烷排放清单"])[0], 20)
    assert "news.md" not in {r["doc_id"] for r in store.fetch(ids).values()}
    assert store.count() == 9  # its paragraph that plan.md repeats is now plan.md's
    assert "鼓励企业" in store.section("plan.md", "二、重点任务")[1]["text"]
    store.close()


def test_a_rebuild_writes_a_new_collection_and_swaps_readers_to_it(built, backend):
    corpus, index_dir = built
    reader = store_of(index_dir)  # opened before the rebuild, kept open through it
    (corpus / "news.md").unlink()
    build_index([corpus], index_dir, embedder=FakeEmbedder(), rebuild=True)
    assert reader.refresh() is True
    assert reader.count() == 9
    assert "news.md" not in {d["doc_id"] for d in reader.documents()}
    if backend:
        client = reader.client
        assert client.describe_alias("policy_qa")["collection_name"] == "policy_qa__g2"
        assert not client.has_collection("policy_qa__g1")  # the old one is dropped
    reader.close()


def test_a_store_of_another_model_is_refused(built, backend, monkeypatch):
    corpus, index_dir = built
    with pytest.raises(ModelMismatchError, match="rebuild"):
        Index(index_dir, embedder=FakeEmbedder(dim=32, model_id="other-model"))
    if backend:
        from qa.milvus_sync import sync

        other = corpus.parent / "other-index"
        monkeypatch.delenv(STORE_ENV)
        build_index([corpus], other, embedder=FakeEmbedder(dim=32, model_id="other-model"))
        with pytest.raises(ModelMismatchError, match="--export-to"):
            sync(other, backend)
        serving = open_store(index_dir, backend)
        assert serving.model_id == "fake-bigram-hash"  # nothing was written
        sync(other, backend, replace=True)  # an export of the other model replaces it
        with pytest.raises(ModelMismatchError, match="restart"):
            serving.refresh()  # a running reader must not embed for one model, search another
        serving.close()


def test_a_store_another_process_left_released_is_loaded_on_open(tmp_path, monkeypatch):
    """Milvus only: a collection is released when the process that loaded it ends."""
    pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
    monkeypatch.setenv(STORE_ENV, f"milvus://{tmp_path / 'milvus.db'}")
    corpus = write_corpus(tmp_path / "corpus", old=OLD_RULES, new=NEW_RULES, plan=PLAN, news=NEWS)
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, embedder=FakeEmbedder())
    store = store_of(index_dir)
    for name in (store._passages, store._docs_name):
        store.client.release_collection(name)
    store.close()
    reopened = store_of(index_dir)
    assert reopened.count() == 10 and reopened.provision("new.md", "第三条")
    reopened.close()
    build_index([corpus], index_dir, embedder=FakeEmbedder())  # a sync into a released one


def test_missing_and_damaged_manifests_say_how_to_fix_them(tmp_path):
    pymilvus = pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]'")
    MilvusClient = pymilvus.MilvusClient

    uri = f"milvus://{tmp_path / 'empty.db'}"
    with pytest.raises(IndexMissingError, match="--export-to"):
        open_store(tmp_path, uri)
    client = MilvusClient(str(tmp_path / "empty.db"))
    client.create_collection("policy_qa", dimension=4)
    with pytest.raises(IndexCorruptError, match="no readable manifest"):
        open_store(tmp_path, uri)
    client.alter_collection_properties("policy_qa", properties={
        "qa.manifest": json.dumps({"format": 99, "model_id": "m", "dim": 4, "generation": 1,
                                   "documents": "x", "passages": 0})
    })  # fmt: skip
    with pytest.raises(IndexCorruptError, match="format 99"):
        open_store(tmp_path, uri)
    client.close()


def test_readers_keep_answering_while_a_write_lands(built):
    corpus, index_dir = built
    index = Index(index_dir, embedder=FakeEmbedder())
    errors, answers, stop = [], [], threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answers.append(index.search("甲烷排放控制的主要目标", k=2))
            except Exception as error:  # any failure is the finding
                errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for n in range(3):
        (corpus / f"extra{n}.md").write_text(
            f"---\ntitle: 补充通知{n}\ndate: 2024-03-0{n + 1}\n---\n\n补充通知第{n}号关于甲烷排放的安排。\n",
            encoding="utf-8",
        )
        build_index([corpus], index_dir, embedder=FakeEmbedder())
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert answers and all(hits and hits[0].doc_id == "plan.md" for hits in answers)
    assert index.size == 13
    index.close()


def test_a_paragraph_repeated_in_one_document_keeps_both_places(tmp_path, backend):
    repeated = "本办法由生态环境部负责解释，各省级生态环境主管部门应当做好组织实施工作。"
    text = f"---\ntitle: 重复段落\ndate: 2024-01-01\n---\n\n{repeated}\n\n中间一段说明配额清缴的时间安排和核查要求。\n\n{repeated}\n"
    corpus = write_corpus(tmp_path / "corpus", twice=text)
    build_index([corpus], tmp_path / "index", embedder=FakeEmbedder())
    store = store_of(tmp_path / "index")
    rows = store.following("twice.md", 0, 10)
    assert [r["paragraph"] for r in rows] == [1, 2, 3] and rows[0]["text"] == rows[2]["text"]
    assert store.count() == 3
    store.close()


def test_export_copies_the_vectors_without_embedding_again(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
    from qa.cli import build_main
    from qa.store import Reader

    monkeypatch.delenv(STORE_ENV, raising=False)
    corpus = write_corpus(tmp_path / "corpus", old=OLD_RULES, new=NEW_RULES, plan=PLAN, news=NEWS)
    build_index([corpus], tmp_path / "index", embedder=FakeEmbedder())
    uri = f"milvus://{tmp_path / 'exported.db'}"
    # No model is loaded on this path: the fake model id would fail to load if it were.
    assert build_main(["--index-dir", str(tmp_path / "index"), "--export-to", uri]) == 0
    assert "10 passages written" in capsys.readouterr().out
    local, milvus = Reader(tmp_path / "index"), open_store(tmp_path, uri)
    local_rows = {
        (r["doc_id"], r["paragraph"]): pid for pid, r in local.fetch(range(1, 11)).items()
    }
    ids, _ = milvus.dense(np.ones(64, dtype=np.float32), 10)
    for key, row in milvus.fetch(ids).items():
        np.testing.assert_array_equal(
            milvus.vectors([key])[0],
            local.vectors([local_rows[row["doc_id"], row["paragraph"]]])[0],
        )
    local.close()
    milvus.close()
    assert build_main(["--index-dir", str(tmp_path / "index"), "--export-to", "local"]) == 1
    assert "--export-to needs a Milvus URI" in capsys.readouterr().err
    assert build_main(["--index-dir", str(tmp_path / "none"), "--export-to", uri]) == 1
    assert "no index at" in capsys.readouterr().err
