"""Saved conversations, export, copy and feedback in the chat app (qa.conversation_ui, qa.chat_ui).

The handlers are tested directly on a tiny fake-embedder index; the browser tests serve
qa.webapp.build_server with uvicorn in a thread (tests/servers.py) and drive Debian's chromium.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from servers import app_environment, served

from qa import Index, build_index
from qa.chat_ui import chat_events
from qa.conversation_ui import ConversationPanel
from qa.conversations import ConversationStore, login_key
from qa.feedback import read_feedback
from qa.webapp import build_server

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
GOAL = "甲烷排放控制要点的主要目标是什么？"
TASKS = "碳市场配额怎么清缴？"
FOLLOW = "那2030年的目标呢？"

DOCUMENTS = {
    "methane.md": "---\ntitle: 甲烷排放控制要点\ndate: 2023-11-07\nissuer: 生态环境部\n---\n\n"
    "# 甲烷排放控制要点\n\n## 一、主要目标\n\n到2025年，甲烷排放控制体系逐步建立，统计核算能力有效"
    "提升。\n\n## 二、重点任务\n\n加强煤矿瓦斯抽采利用，推进油气田甲烷泄漏检测与修复。\n",
    "peak.md": "---\ntitle: 城乡建设碳达峰实施方案\ndate: 2022-06-30\n---\n\n## 一、主要目标\n\n"
    "到2030年前，城乡建设领域碳排放达到峰值，建筑节能水平大幅提升。\n",
    "market.md": "---\ntitle: 碳市场配额管理说明\ndate: 2022-06-01\n---\n\n"
    "重点排放单位应当在规定时限内清缴上年度的碳排放配额。\n\n"
    "未按时足额清缴碳排放配额的，由生态环境主管部门责令改正，处以罚款。\n",
}


def make_index(folder: Path, embedder) -> Index:
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index([corpus], folder / "index", embedder=embedder)
    return Index(folder / "index", embedder=embedder)


def answered(index: Index, question: str, turns: list, chat: list) -> tuple[list, list]:
    """One chat turn through chat_events: the final chat and turns."""
    events = list(chat_events(index, question, chat, turns, [], "", "", 5, "zh"))
    return events[-1][0], events[-1][1]


# --- the handlers, without a browser ---------------------------------------------------------


def test_a_browser_gets_a_key_and_its_turns_are_saved_and_shown_again(tmp_path, fake_embedder):
    index = make_index(tmp_path, fake_embedder)
    panel = ConversationPanel(index)
    key, convs, _, _, chat, turns, _ = panel.restore("", "", None)
    assert len(key) >= 24 and convs["choices"] == [] and chat == [] and turns == []
    chat, turns = answered(index, GOAL, [], [])
    chat, turns = answered(index, "那重点任务呢？", turns, chat)
    convs, current, export, status = panel.save(key, None, turns, "zh", None)
    assert status == "" and convs["value"] == current and convs["choices"][0][1] == current
    saved = ConversationStore(tmp_path / "index" / "conversations").load(key, current)
    assert [t["question"] for t in saved["turns"]] == [GOAL, "那重点任务呢？"]
    assert "[^1-1]:" in Path(export["value"]).read_text(encoding="utf-8")
    panel.save(key, current, turns, "zh", None)  # saving again adds nothing
    assert (
        len(ConversationStore(tmp_path / "index" / "conversations").load(key, current)["turns"])
        == 2
    )
    again = panel.restore(key, current, None)
    assert again[0] == key and again[4] == chat  # the same bubbles, [n] links included
    assert 'id="src-0-1"' in again[6] and 'id="src-1-1"' in again[6]  # every turn's cards


def test_a_login_has_its_own_conversations(tmp_path, fake_embedder):
    index = make_index(tmp_path, fake_embedder)
    panel = ConversationPanel(index)
    login = SimpleNamespace(username="张三")
    _, turns = answered(index, GOAL, [], [])
    _, current, *_ = panel.save("browser-key", None, turns, "zh", login)
    assert ConversationStore(index.index_dir / "conversations").list(login_key("张三"))
    assert not ConversationStore(index.index_dir / "conversations").list("browser-key")
    assert panel.restore("", "", login)[1]["value"] == current


def test_rename_and_delete_check_their_input(tmp_path, fake_embedder):
    index = make_index(tmp_path, fake_embedder)
    panel = ConversationPanel(index)
    _, turns = answered(index, GOAL, [], [])
    _, cid, *_ = panel.save("k1", None, turns, "en", None)
    assert panel.rename("k1", cid, "  ", "en", None)[2] == "Type a new name."
    assert "at most 80" in panel.rename("k1", cid, "长" * 81, "en", None)[2]
    assert panel.rename("k1", None, "x", "zh", None)[2] == "请先选择一个对话。"
    convs, _, status, _ = panel.rename("k1", cid, "甲烷\n目标", "zh", None)
    assert convs["choices"] == [("甲烷 目标", cid)] and "甲烷 目标" in status
    confirm, pending, _ = panel.ask_delete("k1", cid, "zh", None)
    assert confirm["visible"] and "甲烷 目标" in confirm["value"] and pending == cid
    assert panel.delete("k2", cid, "zh", None)[-1].startswith("未删除")  # another user's id
    assert panel.delete("k1", cid, "zh", None)[3]["choices"] == []


def test_a_thumb_on_an_answer_stores_one_record(tmp_path, fake_embedder):
    index = make_index(tmp_path, fake_embedder)
    panel = ConversationPanel(index)
    chat, turns = answered(index, "？", [], [])  # no answer: nothing to rate
    chat, turns = answered(index, GOAL, turns, chat)
    comment, status = panel.like("k1", turns, " 很准确 ", "zh", 1, True, None)
    assert comment == "" and "有帮助" in status
    assert panel.like("k1", turns, "", "zh", 0, False, None)[1]["__type__"] == "update"  # user msg
    records, bad = read_feedback(index.index_dir)
    assert bad == 0 and len(records) == 1
    record = records[0]
    assert (record["rating"], record["question"], record["comment"]) == (1, GOAL, "很准确")
    assert record["user"] == "k1" and record["citations"][0]["doc_id"] == "methane.md"


# --- the browser -----------------------------------------------------------------------------

BOTS = "#qa-chat [data-testid='bot']"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from fakes import FakeEmbedder

    env = pytest.MonkeyPatch()
    app_environment(env, tmp_path_factory.mktemp("gradio"))
    index = make_index(tmp_path_factory.mktemp("conversations"), FakeEmbedder())
    with served(build_server(index, "127.0.0.1")) as (url, _):
        yield url, index.index_dir
    env.undo()


@contextmanager
def page_of(browser, url: str, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.goto(url)
    loaded(page)
    try:
        yield page
    finally:
        context.close()


def loaded(page) -> None:
    page.wait_for_function(  # the library's size arrives with the page-load event
        "() => /份文件|documents ·/.test(document.querySelector('#qa-header')?.innerText)",
        timeout=30_000,
    )


def ask(page, question: str) -> None:
    before = page.locator(BOTS).count()
    page.locator("#qa-input textarea").fill(question)
    page.locator("#qa-input textarea").press("Enter")
    page.wait_for_function(
        """([n]) => { const b = document.querySelectorAll("#qa-chat [data-testid='bot']");
                     return b.length > n && b[b.length - 1].querySelector('.qa-answer'); }""",
        arg=[before], timeout=30_000,
    )  # fmt: skip


def listed(page, count: int) -> list[str]:
    """The conversation list once it holds `count` entries (saving follows the answer)."""
    page.wait_for_function(
        f"() => document.querySelectorAll('#qa-convs input[type=radio]').length === {count}",
        timeout=30_000,
    )
    return [label.inner_text() for label in page.locator("#qa-convs label").all()]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.slow
def test_conversations_come_back_after_a_reload_with_working_links(app, browser):
    url, index_dir = app
    with page_of(browser, url) as page:
        ask(page, GOAL)
        ask(page, "那重点任务呢？")
        assert listed(page, 1) == [GOAL]
        page.reload()
        loaded(page)
        assert listed(page, 1) == [GOAL]
        page.wait_for_function(f'() => document.querySelectorAll("{BOTS}").length === 2')
        assert "煤矿瓦斯" in page.locator(BOTS).last.inner_text()
        assert page.locator("#qa-convs input:checked").count() == 1
        page.locator(BOTS).first.locator("a.qa-cite").first.click()  # the earlier answer's [1]
        page.wait_for_function("() => location.hash === '#src-0-1'")
        assert page.locator("#src-0-1").is_visible()  # its folded card opened
        assert "甲烷排放控制要点" in page.locator("#src-0-1").inner_text()
        page.locator("#qa-new").click()
        page.wait_for_function(f'() => !document.querySelector("{BOTS}")')
        ask(page, TASKS)
        assert listed(page, 2) == [TASKS, GOAL]  # newest first
        shot(page, "conversations")
        page.locator("#qa-convs label", has_text=GOAL).click()
        page.wait_for_function(f'() => document.querySelectorAll("{BOTS}").length === 2')
        assert GOAL in page.locator("#qa-chat [data-testid='user']").first.inner_text()
    users = list((index_dir / "conversations").glob("*.json"))
    assert len(users) == 1 and len(json.loads(users[0].read_text())["conversations"]) == 2


@pytest.mark.slow
def test_rename_and_confirmed_delete_in_english(app, browser):
    with page_of(browser, app[0]) as page:
        page.get_by_label("English").check()
        page.wait_for_function("() => document.querySelector('#qa-new').innerText"
                               ".includes('New conversation')")  # fmt: skip
        text = page.locator("#qa-side").inner_text()
        for label in ("Conversations", "Rename", "Delete conversation", "Export Markdown"):
            assert label in text, label
        ask(page, GOAL)
        listed(page, 1)
        page.locator("#qa-title textarea, #qa-title input").fill("Methane goals")
        page.locator("#qa-rename").click()
        page.wait_for_function("() => document.querySelector('#qa-convs').innerText"
                               ".includes('Methane goals')")  # fmt: skip
        page.locator("#qa-delete").click()
        confirm = page.locator("#qa-conv-confirm")
        confirm.wait_for(state="visible")
        assert "Methane goals" in confirm.inner_text()
        assert listed(page, 1) == ["Methane goals"]  # nothing deleted before the confirmation
        confirm.click()
        listed(page, 0)
        assert page.locator(BOTS).count() == 0
        assert "Deleted" in page.locator("#qa-conv-status").inner_text()


@pytest.mark.slow
def test_the_chat_clear_icon_drops_the_follow_up_context(app, browser):
    with page_of(browser, app[0]) as page:
        ask(page, GOAL)
        ask(page, FOLLOW)  # before the clear it is a follow-up of the methane question
        assert "甲烷" in page.locator(f"{BOTS} .qa-searched").last.inner_text()
        page.locator("#qa-chat button[aria-label='Clear']").click()
        page.wait_for_function(f'() => !document.querySelector("{BOTS}")')
        page.wait_for_function("() => !document.querySelector('#qa-sources .qa-card')")
        ask(page, FOLLOW)
        searched = page.locator(f"{BOTS} .qa-searched")
        assert searched.count() == 0 or "甲烷" not in searched.inner_text()
        assert "城乡建设碳达峰" in page.locator("#qa-sources").inner_text()


@pytest.mark.slow
def test_export_downloads_markdown_with_footnotes(app, browser):
    with page_of(browser, app[0]) as page:
        ask(page, GOAL)
        listed(page, 1)
        page.wait_for_function("() => !document.querySelector('#qa-export').disabled")
        with page.expect_download() as download:
            page.locator("#qa-export").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert download.value.suggested_filename.endswith(".md")
        assert text.startswith("# 甲烷排放控制要点的主要目标是什么")
        assert "[^1-1]" in text and "[^1-1]: 《甲烷排放控制要点》" in text


@pytest.mark.slow
def test_copy_gives_plain_text_with_the_sources(app, browser):
    grant = {"permissions": ["clipboard-read", "clipboard-write"]}
    with page_of(browser, app[0], **grant) as page:
        ask(page, GOAL)
        answer = page.locator(BOTS).last
        answer.hover()
        page.locator("#qa-chat button[aria-label='Copy message']").last.click()
        page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "<" not in copied and "&#" not in copied, copied
        assert "到2025年" in copied and "[1]" in copied
        assert "来源：\n[1] 《甲烷排放控制要点》" in copied


@pytest.mark.slow
def test_a_thumbs_up_writes_one_feedback_record(app, browser):
    url, index_dir = app
    before = len(read_feedback(index_dir)[0]) if (index_dir / "feedback.jsonl").exists() else 0
    with page_of(browser, url) as page:
        ask(page, GOAL)
        page.locator("#qa-comment textarea").fill("引用准确")
        page.locator(BOTS).last.hover()
        page.locator("#qa-chat button[aria-label='Like']").last.click()
        page.wait_for_function("() => document.querySelector('#qa-conv-status').innerText"
                               ".includes('已记录反馈')")  # fmt: skip
        assert page.locator("#qa-comment textarea").input_value() == ""
    records, _ = read_feedback(index_dir)
    assert len(records) == before + 1
    record = records[-1]
    assert (record["rating"], record["question"], record["comment"]) == (1, GOAL, "引用准确")
    assert record["citations"] and record["citations"][0]["doc_id"] == "methane.md"
    assert len(record["user"]) >= 24  # the browser's key
