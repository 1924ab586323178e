"""The app served in a thread on a free port, and Gradio's queue spoken over plain HTTP: shared by
the tests that drive the real server."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# Debian's chromium: Playwright's own browser download doesn't work offline (`make browser`).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def app_environment(env: pytest.MonkeyPatch, gradio_dir) -> None:
    """What every test of the served app starts from: Gradio's temporary files in the test's own
    folder, no analytics calls, and none of the deployment settings (admin token, login, extra
    hosts) a developer's shell may carry."""
    env.setenv("GRADIO_TEMP_DIR", str(gradio_dir))
    env.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    for name in ("QA_ADMIN_TOKEN", "QA_AUTH", "QA_ALLOWED_HOSTS"):
        env.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app, started_within: float = 60) -> Iterator[tuple[str, int]]:
    """Run an ASGI app with uvicorn in a thread: yields (url, port); stops it on exit and checks
    that it stopped (a blocked event loop would keep it running)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + started_within
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not stop: its event loop is blocked"


def queue_call(url: str, fn_index: int, data: list, session: str | None = None,
               timeout: float = 60) -> dict:  # fmt: skip
    """Join Gradio's queue for one event and read its stream to the process_completed message."""
    import httpx

    session = session or uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
            "trigger_id": None}  # fmt: skip
    httpx.post(f"{url}/gradio_api/queue/join", json=body, timeout=timeout).raise_for_status()
    stream_url = f"{url}/gradio_api/queue/data?session_hash={session}"
    with httpx.stream("GET", stream_url, timeout=timeout) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the stream ended without process_completed")


@contextmanager
def chromium():
    """A headless Debian chromium through Playwright; skips the test when it isn't installed."""
    if not CHROMIUM:
        pytest.skip("chromium is not installed: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
