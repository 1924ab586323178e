"""The real app in a subprocess: the `ask` API, the file route, hidden write actions, a browser.

Browser tests drive Debian's chromium with Playwright (`make browser` installs it); screenshots
go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.slow

HOSTILE_ARTICLE = """碳普惠试点说明

碳普惠试点城市名单包括深圳和成都。<img src=x onerror=alert(1)> <script>alert(2)</script> <iframe srcdoc="<b>x</b>"></iframe> [点我](javascript:alert(3))

试点城市应当建立个人碳账户，记录居民绿色出行、节约用电等低碳行为产生的减排量。
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_app(real_index_dir, tmp_path_factory, **env):
    """Serve a copy of the real index from app.py on a free port; yields (url, index_dir)."""
    index_dir = tmp_path_factory.mktemp("app") / "index"
    shutil.copytree(real_index_dir, index_dir)
    port = free_port()
    log = (tmp_path_factory.mktemp("log") / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--index-dir", str(index_dir), "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "QA_ADMIN_TOKEN": "", **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if get(url) == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"app did not start: {Path(log.name).read_text()[-2000:]}")
    yield url, index_dir
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("app did not stop within 30 s of SIGTERM")


@pytest.fixture(scope="module")
def app_url(real_index_dir, tmp_path_factory):
    yield from start_app(real_index_dir, tmp_path_factory)


def test_ask_api_answers_with_citations(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    result = client.predict("中美将建立什么工作组？", 5, api_name="/ask")
    assert result["found"] is True
    assert "工作组" in result["answer"]
    first = result["citations"][0]
    assert first["n"] == 1
    assert first["title"] == "生态环境部就我国如何落实中美气候联合宣言相关内容答复"
    assert first["date"] == "2021-11-25" and first["paragraph"] >= 1
    assert all(quote in first["text"] for quote in first["quotes"])


def test_only_ask_is_in_the_public_api(app_url):
    from gradio_client import Client

    endpoints = Client(app_url[0], verbose=False).view_api(print_info=False, return_format="dict")
    assert set(endpoints["named_endpoints"]) == {"/ask"}
    assert not endpoints["unnamed_endpoints"]


@pytest.mark.parametrize(
    "path",
    [
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=../../../../etc/passwd",
        "gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "gradio_api/file=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "gradio_api/file={index}/index.sqlite",
        f"gradio_api/file={REPO}/corpus/000_431dc65471ed79db.txt",
        f"gradio_api/file={REPO}/pyproject.toml",
    ],
)
def test_file_route_refuses_paths_outside_uploads(app_url, path):
    url, index_dir = app_url
    status = get(url + path.format(index=index_dir))
    assert status in (400, 403, 404)


def test_cross_origin_upload_is_rejected(app_url):
    request = urllib.request.Request(
        app_url[0] + "gradio_api/upload", data=b"--x--\r\n", method="POST",
        headers={"Origin": "https://evil.example", "Content-Type": "multipart/form-data; boundary=x"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status >= 400


def ask_in_page(page, question: str) -> tuple[float, float]:
    """Type, press Enter; seconds to the first streamed text and to the finished answer."""
    bubbles = page.locator("#qa-chat .message.bot, #qa-chat [data-testid='bot']")
    before = bubbles.count()
    page.locator("#qa-input textarea").fill(question)
    start = time.perf_counter()
    page.locator("#qa-input textarea").press("Enter")
    page.wait_for_function(
        """([n]) => { const b = document.querySelectorAll("#qa-chat .message.bot, #qa-chat [data-testid='bot']");
                     return b.length > n && b[b.length - 1].innerText.replace('…', '').trim().length > 0; }""",
        arg=[before], timeout=60_000,
    )  # fmt: skip
    first = time.perf_counter() - start
    page.wait_for_function(
        "() => document.querySelector('#qa-sources .qa-card') !== null "
        "|| document.querySelector('#qa-chat .qa-answer') !== null",
        timeout=60_000,
    )
    return first, time.perf_counter() - start


def test_browser_question_streams_an_answer_with_a_highlighted_source(app_url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(app_url[0])
    first, full = ask_in_page(page, "中国控制甲烷排放有哪些安排？")
    print(f"\nbrowser: first token {first * 1000:.0f} ms, full answer {full * 1000:.0f} ms")
    cite = page.locator("#qa-chat a.qa-cite").first
    assert cite.inner_text() == "[1]"
    card = page.locator("#qa-sources .qa-card").first
    assert "生态环境部就我国如何落实中美气候联合宣言相关内容答复" in card.inner_text()
    assert "主要有五个方面的安排和打算" in card.locator("mark").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)
    # Measured, not asserted: the first question in a new app pays the warm-up of the answer
    # path; a second, different question shows what a user waits for after that.
    first, full = ask_in_page(page, "碳排放权交易管理暂行条例什么时候开始施行？")
    print(f"browser, warm: first token {first * 1000:.0f} ms, full answer {full * 1000:.0f} ms")


def test_browser_upload_then_ask_and_hostile_text_is_inert(app_url, browser, tmp_path):
    article = tmp_path / "碳普惠 试点.txt"
    article.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_url[0])
    page.get_by_role("tab", name="资料库").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(article))
    page.get_by_role("button", name="添加并更新索引").click()
    page.wait_for_function("() => document.body.innerText.includes('1 added')", timeout=120_000)
    assert "碳普惠试点说明" in page.locator("body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "library-upload.png"), full_page=True)
    page.get_by_role("tab", name="问答").click()
    ask_in_page(page, "碳普惠试点城市名单包括哪些城市？")
    page.wait_for_timeout(1000)  # give any injected handler the chance to fire
    assert "深圳" in page.locator("#qa-chat").inner_text()
    for area in ("#qa-chat", "#qa-sources"):
        assert page.locator(f"{area} img[src='x'], {area} script, {area} iframe").count() == 0
        hrefs = page.locator(f"{area} a").evaluate_all("links => links.map(a => a.href)")
        assert not any(h.lower().startswith("javascript") for h in hrefs)
    assert "alert(2)" in page.locator("#qa-sources").inner_text()  # shown as text
    assert dialogs == []
    page.screenshot(path=str(ARTIFACTS / "chat-hostile-article.png"), full_page=True)
    uploaded = list((app_url[1] / "uploads").iterdir())
    assert [p.name for p in uploaded] == ["碳普惠_试点.txt"]  # renamed, inside the uploads folder


@pytest.fixture
def small_queue_app(real_index_dir, tmp_path_factory):
    yield from start_app(real_index_dir, tmp_path_factory, QA_QUEUE_SIZE="1")


def test_requests_beyond_the_queue_get_an_immediate_busy_answer(small_queue_app):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    client = Client(small_queue_app[0], verbose=False)

    def ask(i: int) -> str:
        try:
            client.predict(f"中国控制甲烷排放有哪些安排？{i}", 10, api_name="/ask")
            return "answered"
        except Exception as error:  # gradio_client's QueueError
            return str(error)

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(ask, range(12), timeout=300))  # no request hangs
    assert "answered" in outcomes
    assert any("Queue is full" in outcome for outcome in outcomes)
    assert set(outcomes) <= {"answered", "Queue is full! Please try again."}


def test_the_app_answers_from_a_milvus_store(real_index_dir, tmp_path_factory):
    """QA_STORE=milvus://…: start-up copies the index into Milvus Lite and the chat answers
    from it; the store then holds every passage of the index."""
    pytest.importorskip("pymilvus", reason="pip install -e '.[milvus]' for the Milvus store")
    from gradio_client import Client

    from qa.milvus_store import MilvusStore
    from qa.store import Reader

    store = f"milvus://{tmp_path_factory.mktemp('milvus') / 'store.db'}"
    app = start_app(real_index_dir, tmp_path_factory, QA_STORE=store)
    url, index_dir = next(app)
    try:
        result = Client(url, verbose=False).predict("中美将建立什么工作组？", 5, api_name="/ask")
        assert result["found"] is True and "工作组" in result["answer"]
        assert (
            result["citations"][0]["title"]
            == "生态环境部就我国如何落实中美气候联合宣言相关内容答复"
        )
    finally:
        next(app, None)  # stops the app, which holds the Milvus Lite file
    milvus, local = MilvusStore(store), Reader(index_dir)
    assert milvus.count() == local.count() > 0
    assert {d["doc_id"] for d in milvus.documents()} == {d["doc_id"] for d in local.documents()}
    milvus.close()
    local.close()
