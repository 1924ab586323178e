"""Saved conversations: round trips, every client limit, concurrency, Markdown and plain text."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import threading

import pytest
from conftest import MARKET, METHANE
from fakes import FakeEmbedder
from markdown_it import MarkdownIt

from qa import Index, answer, build_index
from qa import conversations as conv
from qa.conversations import ConversationStore, export_markdown, plain_text, to_answer, turn_record
from qa.render import answer_html, sources_html

REGULATION = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
url: https://www.gov.cn/zhengce/content/202402/content_6930137.htm
date: 2024-02-04
---

**第一条**　为了规范碳排放权交易及相关活动，制定本条例。

**第二条**　本条例自2024年5月1日起施行。

**第三条**　技术服务机构出具虚假检验检测报告的，处2万元以上10万元以下的罚款。
"""

HOSTILE = """---
title: "恶意[x](javascript:alert(1)) <b>标题</b> #"
date: 2023-01-01
---

甲烷回收利用项目应当 [y](javascript:alert(2)) 公开 **其** 减排量。
"""
URL = "https://www.gov.cn/zhengce/content/202402/content_6930137.htm"


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Index:
    root = tmp_path_factory.mktemp("conversations")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in {"methane.md": METHANE, "market.md": MARKET, "regulation.md": REGULATION,
                       "hostile.md": HOSTILE}.items():  # fmt: skip
        (corpus / name).write_text(text, encoding="utf-8")
    embedder = FakeEmbedder()
    build_index([corpus], root / "index", embedder=embedder)
    return Index(root / "index", embedder=embedder)


@pytest.fixture
def ask(index, monkeypatch):
    # The no-answer cosine floor is calibrated for the real model, not the fake (test_trust.py).
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    return lambda question: answer(question, index=index)


@pytest.fixture
def store(tmp_path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations")


def test_a_conversation_round_trips_through_a_new_store(ask, store, tmp_path):
    first, second = ask("条例什么时候开始施行？"), ask("碳价是多少？")
    assert first.found and first.citations and not second.found and second.related
    created = store.create("alice")
    assert created["title"] == "" and created["turns"] == []
    store.append_turn("alice", created["id"], first)
    store.append_turn("alice", created["id"], second)

    loaded = ConversationStore(tmp_path / "conversations").load("alice", created["id"])
    assert loaded["title"] == "条例什么时候开始施行？"  # the first question names it
    turn = loaded["turns"][0]
    assert (turn["question"], turn["text"], turn["found"]) == (first.question, first.text, True)
    cited = turn["citations"][0]
    passage = first.citations[0].passage
    assert cited["doc_id"] == passage.doc_id == URL
    assert (cited["title"], cited["date"], cited["provision"]) == (
        "碳排放权交易管理暂行条例", "2024-02-04", "第二条"
    )  # fmt: skip
    assert (cited["paragraph"], cited["source"], cited["text"]) == (2, URL, passage.text)
    assert cited["quotes"] == list(first.citations[0].quotes)
    assert cited["spans"] == [list(s) for s in first.citations[0].spans]
    assert [p["doc_id"] for p in loaded["turns"][1]["related"]] == [
        p.doc_id for p in second.related
    ]
    assert [row["turns"] for row in store.list("alice")] == [2]
    assert store.list("bob") == []  # another key sees nothing
    files = list((tmp_path / "conversations").iterdir())
    assert len(files) == 1 and not files[0].name.startswith(".")  # no temp file left behind
    assert json.loads(files[0].read_text(encoding="utf-8"))["user"] == "alice"


@pytest.mark.parametrize("question", ["条例什么时候开始施行？", "甲烷回收利用项目应当公开什么？",
                                      "碳价是多少？", "未按时足额清缴碳排放配额会怎样？"])  # fmt: skip
def test_a_saved_turn_renders_the_same_bubble_and_cards(ask, store, question):
    original = ask(question)
    cid = store.create("alice")["id"]
    store.append_turn("alice", cid, original)
    again = to_answer(store.load("alice", cid)["turns"][0])
    assert answer_html(again, 3) == answer_html(original, 3)
    assert sources_html(again, 3) == sources_html(original, 3)
    assert sources_html(again, 3, "en") == sources_html(original, 3, "en")


def test_titles_default_cut_rename_and_delete(ask, store):
    long_question = "请问碳排放权交易管理暂行条例" * 5 + "什么时候开始施行？"
    cid = store.create("alice")["id"]
    store.append_turn("alice", cid, dataclasses.replace(ask("条例什么时候开始施行？"),
                                                        question=long_question))  # fmt: skip
    title = store.load("alice", cid)["title"]
    assert len(title) == 40 and long_question.startswith(title[:-1]) and title.endswith("…")
    renamed = store.rename("alice", cid, "  施行\n日期  ")
    assert renamed["title"] == "施行 日期" == store.list("alice")[0]["title"]
    named = store.create("alice", "我的标题")
    store.append_turn("alice", named["id"], ask("条例什么时候开始施行？"))
    assert store.load("alice", named["id"])["title"] == "我的标题"  # a given title is kept
    assert store.list("alice")[0]["id"] == named["id"]  # newest first
    store.delete("alice", cid)
    assert [row["id"] for row in store.list("alice")] == [named["id"]]
    with pytest.raises(LookupError, match="no conversation"):
        store.load("alice", cid)


@pytest.mark.parametrize("key", ["", "a/b", "../etc", "a" * 65, "é", "a b", "x\n", None, 7])
def test_a_bad_user_key_is_refused(store, key):
    with pytest.raises(ValueError, match=r"A-Z a-z 0-9 _ -"):
        store.create(key)


def test_user_keys_differing_in_case_use_different_files(store):
    store.create("Alice", "upper")
    store.create("alice", "lower")
    assert [r["title"] for r in store.list("Alice")] == ["upper"]
    assert [r["title"] for r in store.list("alice")] == ["lower"]
    assert store.path("Alice") != store.path("alice")
    assert conv.login_key("alice") == "alice"
    assert re.fullmatch(r"h-[0-9a-f]{40}", conv.login_key("张三@example.com"))
    assert conv.check_user_key(conv.new_browser_key())


@pytest.mark.parametrize("cid", ["", "../../x", "0123456789ABCDEF", "0" * 17, None])
def test_a_malformed_conversation_id_is_refused(store, cid):
    store.create("alice")
    with pytest.raises(ValueError, match="conversation id"):
        store.load("alice", cid)


@pytest.mark.parametrize("title", ["x" * 81, "   ", "\n\t", 5])
def test_a_bad_title_is_refused(store, title):
    cid = store.create("alice")["id"]
    with pytest.raises(ValueError, match="80-character limit|empty|must be text"):
        store.rename("alice", cid, title)
    with pytest.raises(ValueError, match="80-character limit|empty|must be text"):
        store.create("alice", title)
    assert store.create("alice", "x" * 80)["title"] == "x" * 80


def test_at_most_200_conversations_per_user(store, monkeypatch):
    monkeypatch.setattr(conv.os, "fsync", lambda fd: None)  # 200 writes; durability not tested
    for _ in range(200):
        store.create("alice")
    with pytest.raises(ValueError, match="200 conversations"):
        store.create("alice")
    assert len(store.list("alice")) == 200
    store.create("bob")  # the limit is per user


def test_at_most_500_turns_per_conversation(ask, store, monkeypatch):
    assert conv.MAX_TURNS == 500
    monkeypatch.setattr(conv, "MAX_TURNS", 3)  # the check, without writing 500 turns
    result = ask("条例什么时候开始施行？")
    cid = store.create("alice")["id"]
    for _ in range(3):
        store.append_turn("alice", cid, result)
    with pytest.raises(ValueError, match="3 turns"):
        store.append_turn("alice", cid, result)
    assert len(store.load("alice", cid)["turns"]) == 3


def test_a_user_file_over_5_mb_is_refused_and_left_intact(ask, store):
    result = ask("条例什么时候开始施行？")
    cid = store.create("alice")["id"]
    store.append_turn("alice", cid, dataclasses.replace(result, question="问" * 1_000_000))
    before = store.path("alice").read_bytes()
    with pytest.raises(ValueError, match="5 MB limit"):
        store.append_turn("alice", cid, dataclasses.replace(result, question="题" * 1_000_000))
    assert store.path("alice").read_bytes() == before
    assert len(store.load("alice", cid)["turns"]) == 1


def test_concurrent_appends_and_creates_lose_nothing(ask, store):
    result = ask("条例什么时候开始施行？")
    cid = store.create("alice")["id"]
    errors = []

    def work(i: int) -> None:
        try:
            for j in range(10):
                store.append_turn("alice", cid, dataclasses.replace(result, question=f"q{i}-{j}"))
                store.create("alice", f"c{i}-{j}")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    questions = {t["question"] for t in store.load("alice", cid)["turns"]}
    assert questions == {f"q{i}-{j}" for i in range(6) for j in range(10)}
    assert len(store.list("alice")) == 61


def test_a_damaged_file_is_moved_aside_and_the_user_starts_over(store):
    store.create("alice", "kept")
    path = store.path("alice")
    path.write_text('{"user": "alice", "conversations": [', encoding="utf-8")
    assert store.list("alice") == []
    assert [p.name for p in path.parent.glob("*.damaged-*")]
    store.create("alice", "new")
    assert [r["title"] for r in store.list("alice")] == ["new"]


def test_markdown_export_has_footnotes_per_answer(ask, store):
    cid = store.create("alice")["id"]
    store.append_turn("alice", cid, ask("条例什么时候开始施行？"))
    store.append_turn("alice", cid, ask("未按时足额清缴碳排放配额会怎样？"))
    markdown = export_markdown(store.load("alice", cid))
    assert markdown.startswith("# 条例什么时候开始施行？\n")
    assert "## 1. 条例什么时候开始施行？" in markdown
    assert "本条例自2024年5月1日起施行。[^1-1]" in markdown
    assert "核减下一年度配额。[^2-1]" in markdown
    assert (f"[^1-1]: 《碳排放权交易管理暂行条例》第二条，2024\\-02\\-04，第2段 — "
            f"“第二条\u3000本条例自2024年5月1日起施行。” <{URL}>") in markdown  # fmt: skip
    note = next(line for line in markdown.splitlines() if line.startswith("[^2-1]: "))
    assert "《碳市场配额管理说明》" in note and "第2段" in note and "<http" not in note  # no URL


def test_markdown_export_cannot_inject_links_or_html(ask, store):
    cid = store.create("alice", "[t](javascript:alert(0)) <img src=x onerror=alert(1)>")
    store.append_turn("alice", cid["id"], dataclasses.replace(
        ask("甲烷回收利用项目应当公开什么？"),
        question="# hi [x](javascript:alert(1)) <script>alert(2)</script> **b** `c`",
    ))  # fmt: skip
    markdown = export_markdown(store.load("alice", cid["id"]))
    assert "[^1-1]: 《恶意\\[x\\]\\(javascript\\:alert\\(1\\)\\)" in markdown  # a hostile title
    assert not any(line.startswith("# hi") for line in markdown.splitlines())
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert not [h for h in hrefs if not h.startswith("https://")], hrefs
    assert not re.search(r"<(script|img|b|strong|em|code)\b", rendered)
    assert "# hi [x](javascript:alert(1)) &lt;script&gt;" in rendered  # shown as typed


def test_plain_text_lists_the_sources_after_the_answer(ask):
    result = ask("条例什么时候开始施行？")
    text = plain_text(turn_record(result))
    assert text.startswith("第二条\u3000本条例自2024年5月1日起施行。[1]\n\n")
    assert "[1] 《碳排放权交易管理暂行条例》第二条，2024-02-04，第2段" in text
    assert "“第二条\u3000本条例自2024年5月1日起施行。”" in text and URL in text
    assert not re.search(r"<[a-z/]", text)
    declined = plain_text(turn_record(ask("碳价是多少？")))
    assert declined.strip() == "资料中没有找到相关内容。"
