"""The chat app's rough edges, in a real browser and over HTTP: escaping, colours in both
schemes, phones, empty questions, dates, the k slider, the language switch, the question box,
a busy library, examples from the library and the `ask` API.

The app is qa.webapp.build_server over a tiny index built with the fake embedder, served by
uvicorn in a thread; the browser is Debian's chromium (`make browser`). Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fakes import FakeEmbedder
from servers import app_environment, queue_call, served

from qa import Index, build_index
from qa.answer import Answer
from qa.webapp import (
    MESSAGES,
    InputError,
    answer_bubble,
    build_server,
    check_dates,
    check_history,
    parse_day,
)

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
GOAL = "甲烷排放控制要点的主要目标是什么？"
FILE_DATA = {"_type": "gradio.FileData"}

DOCUMENTS = {
    "methane.md": "---\ntitle: 甲烷排放控制要点\ndate: 2023-11-07\nissuer: 生态环境部\n---\n\n"
    "# 甲烷排放控制要点\n\n## 一、主要目标\n\n到2025年，甲烷排放控制体系逐步建立（It's the plan's "
    "first stage），统计核算能力有效提升。\n\n## 二、重点任务\n\n加强煤矿瓦斯抽采利用，推进油气田甲烷"
    "泄漏检测与修复，控制畜禽养殖和稻田甲烷排放。\n",
    "regs.md": "---\ntitle: 碳排放权交易管理暂行条例\ndate: 2024-02-04\nissuer: 国务院\n---\n\n"
    "第一条 为了规范碳排放权交易及相关活动，加强对温室气体排放的控制，制定本条例。\n\n"
    "第二条 本条例适用于全国碳排放权交易市场的碳排放权交易及相关活动。\n\n"
    "第三条 本条例自2024年5月1日起施行。\n",
    "market.md": "---\ntitle: 碳市场配额管理说明\ndate: 2022-06-01\n---\n\n"
    "重点排放单位应当在规定时限内清缴上年度的碳排放配额。\n\n"
    "未按时足额清缴碳排放配额的，由生态环境主管部门责令改正，处以罚款。\n",
}


class GatedEmbedder(FakeEmbedder):
    """Holds a build inside embedding while `gate` is armed, so a test can overlap two."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def embed_passages(self, texts, progress=None):
        if self.gate is not None:
            self.entered.set()
            assert self.gate.wait(timeout=60), "the test never released the build"
        return super().embed_passages(texts, progress)


@contextmanager
def serving(folder: Path):
    """A tiny library in `folder` served on a free port: yields (url, index_dir, embedder)."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    embedder = GatedEmbedder()
    build_index([corpus], folder / "index", embedder=embedder)
    app = build_server(Index(folder / "index", embedder=embedder), "127.0.0.1")
    with served(app) as (url, _):
        yield url, folder / "index", embedder


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    env = pytest.MonkeyPatch()
    app_environment(env, tmp_path_factory.mktemp("gradio"))
    with serving(tmp_path_factory.mktemp("ui")) as served:
        yield served
    env.undo()


@contextmanager
def page_of(browser, url: str, width: int = 1280, height: int = 800, scheme: str = "light"):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=scheme)  # fmt: skip
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(  # the library's size arrives with the page-load event
        "() => /份文件|documents ·/.test(document.querySelector('#qa-header')?.innerText)",
        timeout=30_000,
    )
    try:
        yield page
    finally:
        context.close()


BOTS = "#qa-chat [data-testid='bot']"


def ask(page, question: str, cards: bool = True) -> tuple[float, float]:
    """Type, press Enter; seconds to the first streamed text and to the finished answer."""
    before = page.locator(BOTS).count()
    page.locator("#qa-input textarea").fill(question)
    start = time.perf_counter()
    page.locator("#qa-input textarea").press("Enter")
    page.wait_for_function(
        """([n]) => { const b = document.querySelectorAll("#qa-chat [data-testid='bot']");
                     return b.length > n && b[b.length - 1].innerText.replace('…', '').trim(); }""",
        arg=[before], timeout=30_000,
    )  # fmt: skip
    first = time.perf_counter() - start
    done = "#qa-sources .qa-sources" if cards else f"{BOTS} .qa-answer, {BOTS} p"
    page.wait_for_selector(done, timeout=30_000)
    return first, time.perf_counter() - start


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# --- pure functions: no server ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [("2024-01-01", False, "2024-01-01"), ("2024/01/01", False, "2024-01-01"),
     ("2024年1月1日", False, "2024-01-01"), ("２０２４年１月１日", False, "2024-01-01"),
     ("2024", False, "2024-01-01"), ("2024", True, "2024-12-31"), ("2024年", True, "2024-12-31"),
     ("2024-02", True, "2024-02-29"), ("2023年2月", True, "2023-02-28"), (" ", False, None)],
)  # fmt: skip
def test_dates_in_the_usual_chinese_and_iso_forms(text, end, expected):
    assert parse_day(text, "date_to", end=end) == expected


def test_bad_and_reversed_dates_are_explained_in_the_ui_language():
    for bad in ("last year", "2024-13-01", "2023-02-29", "24/1/1", 2024):
        with pytest.raises(InputError) as error:
            parse_day(bad, "date_from")
        assert error.value.kind == "invalid_date"
        assert error.value.text("zh").startswith("起始日期")
    with pytest.raises(InputError) as error:
        check_dates("2025", "2024年1月1日")
    assert error.value.kind == "invalid_date_range"
    assert error.value.text("zh").startswith("起始日期晚于截止日期")
    assert "2025-01-01" in error.value.text("en") and "From" in error.value.text("en")
    assert "date_from" in error.value.text("api")
    assert check_dates("2024", "2024") == {"date_from": "2024-01-01", "date_to": "2024-12-31"}
    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])  # every message in both languages


def test_history_must_be_pairs_of_text():
    assert check_history([["问", "答"], ("q", "a")]) == [("问", "答"), ("q", "a")]
    for bad in ("问答", [["问"]], [["问", 1]], [{"q": "a"}], [["q", "a"]] * 21):
        with pytest.raises(InputError, match="history"):
            check_history(bad)


def test_a_long_searched_line_is_cut_to_80_characters():
    query = "甲烷排放控制要点" * 20
    bubble = answer_bubble(Answer("那目标呢？", "答[1]", (), True, query), 0, "zh")
    searched = bubble.split('<div class="qa-searched">')[1].split("</div>")[0]
    assert searched.startswith("检索：") and searched.endswith("…")
    assert len(searched) - len("检索：") == 80
    same = answer_bubble(Answer(query, "答", (), True, query), 0, "zh")
    assert "qa-searched" not in same  # not a follow-up: nothing echoed


# --- HTTP and API -------------------------------------------------------------------------


def join(url: str, fn_index: int, data: list, session: str = "") -> dict:
    """Run a page event the way the browser does (queue/join, then the SSE stream)."""
    return queue_call(url, fn_index, data, session or None)


def dependency(url: str, inputs: int, output_type: str | None = None) -> int:
    config = httpx.get(f"{url}/config", timeout=10).json()
    types = {c["id"]: c["type"] for c in config["components"]}
    for dep in config["dependencies"]:
        if len(dep["inputs"]) == inputs and (
            output_type is None or any(types.get(i) == output_type for i in dep["inputs"])
        ):
            return dep["id"]
    raise AssertionError(f"no dependency with {inputs} inputs")


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "hint"), [("zh", "请输入问题"), ("en", "Type a question")])
def test_the_server_answers_an_empty_question_in_the_ui_language(app, lang, hint):
    chat = dependency(app[0], 8)
    for question in ("", "   ", "？？！……", "。"):
        result = join(app[0], chat, [question, [], [], [], "", "", 5, lang])
        assert result["success"] is True
        chat_out, _, _, _, note = result["output"]["data"]
        assert chat_out == [] or chat_out is None or chat_out == {"__type__": "update"}, question
        assert hint in json.dumps(note, ensure_ascii=False)


@pytest.mark.slow
def test_ask_api_takes_filters_and_history_and_returns_locators(app):
    from gradio_client import Client

    client = Client(app[0], verbose=False)
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"]
    assert [p["parameter_name"] for p in info["parameters"]] == [
        "question", "k", "documents", "date_from", "date_to", "in_force", "history"]  # fmt: skip
    assert info["returns"][0]["label"] == "answer"
    result = client.predict(GOAL, 5, api_name="/ask")
    first = result["citations"][0]
    assert result["found"] is True and first["doc_id"] == "methane.md"
    assert first["provision"] == "一、主要目标" and first["locator"]
    assert first["paragraph_end"] >= first["paragraph"] >= 1 and "page" in first
    follow = client.predict(
        "那重点任务呢？", 5, history=[[GOAL, result["answer"]]], api_name="/ask"
    )
    assert "甲烷排放控制要点" in follow["query"] and "煤矿瓦斯" in follow["answer"]
    only = client.predict(GOAL, 5, documents=["market.md"], api_name="/ask")
    assert all(c["doc_id"] == "market.md" for c in only["citations"] + only["related"])
    dated = client.predict("碳排放配额清缴和交易", 10, date_from="2024", date_to="2024年12月31日",
                           in_force=True, api_name="/ask")  # fmt: skip
    shown = dated["citations"] + dated["related"]
    assert shown and all(c["date"].startswith("2024") for c in shown)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "kind"),
    [({"k": 0}, "invalid_k"), ({"k": 2.5}, "invalid_k"), ({"k": 21}, "invalid_k"),
     ({"question": "碳" * 2001}, "question_too_long"), ({"question": "？！"}, "empty_question"),
     ({"date_from": "去年"}, "invalid_date"), ({"date_from": "2025", "date_to": "2024"},
                                                "invalid_date_range"),
     ({"documents": ["nope.md"]}, "unknown_document"), ({"documents": [1]}, "invalid_documents"),
     ({"in_force": "yes"}, "invalid_in_force"), ({"history": [["只有问题"]]}, "invalid_history")],
)  # fmt: skip
def test_ask_api_errors_are_typed(app, arguments, kind):
    from gradio_client import Client

    arguments = {"question": GOAL, **arguments}
    result = Client(app[0], verbose=False).predict(**arguments, api_name="/ask")
    assert set(result) == {"error"} and result["error"]["type"] == kind
    assert result["error"]["message"]


@pytest.mark.slow
def test_a_second_concurrent_upload_is_told_busy_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.delenv("QA_ADMIN_TOKEN", raising=False)
    with serving(tmp_path / "busy") as (url, index_dir, embedder):
        upload = dependency(url, 2, "file")

        def send(name: str, text: str) -> str:
            files = {"files": (name, text.encode())}
            copy = httpx.post(f"{url}/gradio_api/upload", files=files, timeout=30).json()[0]
            payload = [{"path": copy, "orig_name": name, "meta": FILE_DATA}]
            return join(url, upload, [payload, ""])["output"]["data"][0]

        embedder.gate = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(
                send, "forest.md", "# 林业碳汇说明\n\n林业碳汇项目可以登记为自愿减排项目。\n"
            )
            assert embedder.entered.wait(timeout=60), "the first upload never started embedding"
            second = pool.submit(send, "ocean.md", "# 海洋碳汇说明\n\n海洋碳汇项目正在开展试点。\n")
            assert "正在更新资料库" in second.result(timeout=30)  # while the first still runs
            embedder.gate.set()
            assert "1 added" in first.result(timeout=60)
        assert [p.name for p in (index_dir / "uploads").iterdir()] == ["forest.md"]


# --- the browser --------------------------------------------------------------------------

CONTRAST = """(selector) => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => {  // the first opaque background behind el, page white at worst
    for (; el; el = el.parentElement) {
      const [r, g, b, a = 1] = rgba(getComputedStyle(el).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return document.body.classList.contains('dark') ? [0, 0, 0] : [255, 255, 255];
  };
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92
      : ((v + 0.055) / 1.055) ** 2.4).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const el = document.querySelector(selector);
  const [x, y] = [lum(rgba(getComputedStyle(el).color)), lum(background(el))];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}"""


@pytest.mark.slow
def test_apostrophes_show_once_and_markup_stays_text(app, browser):
    with page_of(browser, app[0]) as page:
        ask(page, 'It\'s <b>bold</b><img src=x onerror="window.__hit=1"> 甲烷？', cards=False)
        first, full = ask(page, GOAL)
        print(f"\nbrowser (tiny index): first token {first * 1000:.0f} ms, "
              f"full answer {full * 1000:.0f} ms")  # fmt: skip
        user = page.locator("#qa-chat [data-testid='user']").first.inner_text()
        assert user.startswith("It's <b>bold</b><img src=x")
        answer = page.locator(BOTS).last.inner_text()
        card = page.locator("#qa-sources .qa-card").first.inner_text()
        assert "It's the plan's first stage" in answer and "It's the plan's" in card
        assert "&#" not in page.locator("#qa-chat").inner_text() + card
        assert page.locator("#qa-chat b, #qa-chat img[src='x']").count() == 0
        assert page.evaluate("window.__hit") is None


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_quotes_and_markers_are_legible_in_both_schemes(app, browser, scheme):
    with page_of(browser, app[0], scheme=scheme) as page:
        ask(page, GOAL)
        assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
        for selector in ("#qa-sources .qa-card mark", "#qa-chat a.qa-cite", "#qa-sources .qa-n"):
            ratio = page.evaluate(CONTRAST, selector)
            assert ratio >= 4.5, (scheme, selector, ratio)
        shot(page, f"ui-desktop-{scheme}")


@pytest.mark.slow
def test_phone_no_sideways_scroll_and_sources_right_under_the_chat(app, browser):
    with page_of(browser, app[0], width=390, height=844) as page:
        ask(page, GOAL)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = lambda selector: page.locator(selector).bounding_box()  # noqa: E731
        chat, sources, examples = box("#qa-chat"), box("#qa-sources"), box("#qa-examples")
        assert chat["y"] < sources["y"] < examples["y"]  # cards before the examples
        shot(page, "ui-phone-chat")
        page.locator("#qa-chat a.qa-cite").first.click()
        page.wait_for_function("() => location.hash === '#src-0-1'")
        assert page.locator("#src-0-1").is_visible()
        assert page.evaluate("document.querySelector('#src-0-1').getBoundingClientRect().top") < 844
        page.locator("#qa-sources a.qa-back").click()  # the way back to the answer
        page.wait_for_function("() => location.hash === '#qa-chat'")
        top = page.evaluate("document.querySelector('#qa-chat').getBoundingClientRect().top")
        assert -5 <= top < 844
        page.get_by_role("tab", name="资料库").click()
        page.wait_for_selector("#qa-table")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "ui-phone-library")


@pytest.mark.slow
def test_an_empty_question_is_not_sent(app, browser):
    with page_of(browser, app[0]) as page:
        for question in ("", "？？！", "  。 "):
            page.locator("#qa-input textarea").fill(question)
            page.locator("#qa-input textarea").press("Enter")
        page.wait_for_timeout(1000)  # a sent question would show up by now
        assert page.locator("#qa-chat [data-testid='user']").count() == 0
        assert "请输入问题" in page.locator("#qa-meta").inner_text()


@pytest.mark.slow
def test_dates_k_and_the_question_box(app, browser):
    with page_of(browser, app[0]) as page:
        meta = page.locator("#qa-meta")
        assert "2000" in meta.inner_text() and "0 / 2000" in meta.inner_text()
        textarea = page.locator("#qa-input textarea")
        assert textarea.get_attribute("maxlength") == "2000"
        textarea.fill("\n".join(["碳排放配额"] * 30))
        page.wait_for_function(
            "() => document.querySelector('#qa-count').innerText.startsWith('179 ')"
        )
        assert textarea.bounding_box()["height"] < 220  # grows to max_lines, then scrolls
        page.get_by_text("选项").click()
        page.locator("#qa-from input, #qa-from textarea").fill("2025")
        page.locator("#qa-to input, #qa-to textarea").fill("2024年1月1日")
        ask(page, GOAL, cards=False)
        reply = page.locator(BOTS).last.inner_text()
        assert reply.startswith("起始日期晚于截止日期") and "2025-01-01" in reply
        assert page.locator("#qa-input textarea").input_value() == GOAL  # kept to send again
        page.locator("#qa-from input, #qa-from textarea").fill("2023/01/01")
        page.locator("#qa-to input, #qa-to textarea").fill("2023")
        page.locator("#qa-k input[type=number]").fill("3")
        page.locator("#qa-k input[type=number]").press("Enter")
        ask(page, GOAL)
        assert "来源（检索 3 段）" in page.locator("#qa-sources h3").inner_text()


@pytest.mark.slow
def test_the_language_switch_changes_the_whole_page(app, browser):
    with page_of(browser, app[0]) as page:
        page.get_by_label("English").check()
        page.wait_for_function("() => document.querySelector('#qa-header')?.innerText"
                               ".includes('documents')")  # fmt: skip
        # The switch updates many components; the tab labels may land after the header.
        page.get_by_role("tab", name="Library").wait_for(timeout=15_000)
        for name in ("Chat", "Library"):
            assert page.get_by_role("tab", name=name).count() == 1
        assert page.get_by_role("tab", name="资料库").count() == 0
        assert page.locator("#qa-input textarea").get_attribute("placeholder") == (
            "Ask a question, press Enter")  # fmt: skip
        text = page.locator("body").inner_text()
        for label in ("Clear", "Examples", "Options", "Enter sends", "3 documents"):
            assert label in text, label
        for label in ("清空", "示例", "选项", "回车发送", "份文件"):
            assert label not in text, label
        page.locator("#qa-input textarea").fill("？")
        page.locator("#qa-input textarea").press("Enter")
        page.wait_for_function("() => document.querySelector('#qa-meta').innerText"
                               ".includes('Type a question')")  # fmt: skip
        ask(page, GOAL)
        assert "Sources (5 passages searched)" in page.locator("#qa-sources h3").inner_text()
        page.get_by_role("tab", name="Library").click()
        assert "Add and index" in page.locator("body").inner_text()
        assert "Title" in page.locator("#qa-table").inner_text()
        shot(page, "ui-english-library")


@pytest.mark.slow
def test_examples_and_size_come_from_the_library_and_refresh_on_load(app, browser, tmp_path):
    url, index_dir, embedder = app
    with page_of(browser, url) as page:
        assert "3 份文件 · 7 段" in page.locator("#qa-header").inner_text()
        examples = page.locator("#qa-examples").inner_text()
        assert "《碳排放权交易管理暂行条例》什么时候开始施行？" in examples
        assert "《甲烷排放控制要点》的主要目标是什么？" in examples
        assert "中美将建立什么工作组" not in examples  # the fixed list is only a fallback
        page.locator("#qa-examples").get_by_text("《甲烷排放控制要点》的主要目标是什么？").click()
        page.wait_for_function("() => document.querySelector('#qa-input textarea').value"
                               ".includes('主要目标')")  # fmt: skip
        more = tmp_path / "more"
        more.mkdir()
        (more / "ocean.md").write_text(
            "---\ntitle: 海洋碳汇方案\ndate: 2025-01-02\n---\n\n## 一、主要目标\n\n"
            "到2030年，海洋碳汇监测体系基本建立。\n", encoding="utf-8",
        )  # fmt: skip
        build_index([more], index_dir, embedder=embedder)
        page.reload()
        page.wait_for_function("() => document.querySelector('#qa-header')?.innerText"
                               ".includes('4 份文件 · ')", timeout=30_000)  # fmt: skip
        assert "《海洋碳汇方案》的主要目标是什么？" in page.locator("#qa-examples").inner_text()
