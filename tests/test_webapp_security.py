"""The served app against a hostile network: crafted Gradio payloads, forged Host and Origin
headers, oversized questions and what /config tells strangers.

Each test serves the real ASGI app of qa.webapp.build_server (a tiny index, the fake embedder)
with uvicorn in a thread and speaks Gradio's HTTP API with httpx.
"""

from __future__ import annotations

import inspect
import json
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import app_environment, queue_call, served

from qa import Index, build_index
from qa.errors import QAError
from qa.store import Reader
from qa.webapp import MAX_QUESTION_CHARS, allowed_hosts, build_server, create_app

SECRET = "机密条款：试点单位的内部配额为七百三十万吨，不得对外公开。"
MARKER = "标记QZX7资料"
FILE_DATA = {"_type": "gradio.FileData"}


@dataclass
class Served:
    url: str
    port: int
    index_dir: Path
    gradio_dir: Path  # Gradio's upload folder (GRADIO_TEMP_DIR) for this app

    def config(self) -> dict:
        return httpx.get(f"{self.url}/config", timeout=10).json()

    def fn_index(self, kind: str) -> int:
        """The dependency id of the upload button ("file" input) or the page load ("load")."""
        config = self.config()
        types = {c["id"]: c["type"] for c in config["components"]}
        for dep in config["dependencies"]:
            if kind == "load" and any(event == "load" for _, event in dep["targets"]):
                return dep["id"]
            if kind == "file" and any(types.get(i) == "file" for i in dep["inputs"]):
                return dep["id"]
        raise AssertionError(f"no {kind} dependency in /config")

    def join(self, fn_index: int, data: list, timeout: float = 30, session: str = "") -> dict:
        """Run a dependency the way the page does (queue/join, then the SSE stream)."""
        return queue_call(self.url, fn_index, data, session or None, timeout)

    def call(self, api_name: str, data: list | str, timeout: float = 30) -> tuple[str, object]:
        """POST /gradio_api/call/<name> (data may be raw JSON text), then read the result."""
        content = data if isinstance(data, str) else json.dumps({"data": data})
        posted = httpx.post(f"{self.url}/gradio_api/call/{api_name}", content=content,
                            headers={"Content-Type": "application/json"}, timeout=timeout)  # fmt: skip
        posted.raise_for_status()
        event_id = posted.json()["event_id"]
        url = f"{self.url}/gradio_api/call/{api_name}/{event_id}"
        event = None
        with httpx.stream("GET", url, timeout=timeout) as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return event, json.loads(line[5:])
        raise AssertionError("the stream ended without a result")

    def ask(self, question: object, k: object = 5, timeout: float = 30) -> dict:
        # question, k, documents, date_from, date_to, in_force, history
        event, data = self.call("ask", [question, k, [], "", "", False, []], timeout)
        assert event == "complete", data
        return data[0]

    def upload_through_gradio(self, name: str, content: bytes) -> str:
        files = {"files": (name, content)}
        response = httpx.post(f"{self.url}/gradio_api/upload", files=files, timeout=30)
        response.raise_for_status()
        return response.json()[0]


@pytest.fixture
def serve(tiny_corpus, tmp_path, fake_embedder, monkeypatch):
    """serve(**env) → a Served app over the tiny corpus plus a document titled MARKER."""
    gradio_dir = tmp_path / "gradio"
    app_environment(monkeypatch, gradio_dir)
    (tiny_corpus / "marked.md").write_text(
        f"---\ntitle: {MARKER}\ndate: 2024-05-01\n---\n\n碳普惠平台记录居民绿色出行产生的减排量。\n",
        encoding="utf-8",
    )
    index_dir = tmp_path / "index"
    build_index([tiny_corpus], index_dir, embedder=fake_embedder)
    with ExitStack() as running:

        def start(**env: str) -> Served:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            app = build_server(Index(index_dir, embedder=fake_embedder), "127.0.0.1")
            url, port = running.enter_context(served(app))
            return Served(url, port, index_dir, gradio_dir)

        yield start


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.slow
def test_upload_refuses_paths_outside_gradios_upload_folder(serve, tmp_path):
    app = serve()
    outside = tmp_path / "outside" / "secret.md"
    outside.parent.mkdir()
    outside.write_text(f"# 内部文件\n\n{SECRET}\n", encoding="utf-8")
    link = app.gradio_dir / "linked" / "secret.md"  # inside by name, outside in reality
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    upload = app.fn_index("file")
    for path in (str(outside), "/etc/passwd", str(link)):
        payload = [{"path": path, "orig_name": Path(path).name, "meta": FILE_DATA}]
        result = app.join(upload, [payload, ""])
        status = (result.get("output") or {}).get("data", [""])[0]
        assert result["success"] is False or "not an uploaded file" in status, result
    answer = app.ask("试点单位的内部配额是多少？")
    assert all(SECRET[:12] not in c["text"] for c in answer["citations"] + answer["related"])
    reader = Reader(app.index_dir)
    assert "内部文件" not in [d["title"] for d in reader.documents()]
    reader.close()
    assert not files_under(app.index_dir / "uploads")
    copies = [p for p in files_under(app.gradio_dir) if p != link]
    assert not any(p.name == "passwd" or SECRET.encode() in p.read_bytes() for p in copies)


@pytest.mark.slow
@pytest.mark.parametrize("token", ["", "s3cret-token"])
def test_a_dev_zero_payload_does_not_freeze_the_server(serve, token):
    app = serve(QA_ADMIN_TOKEN=token)
    payload = [{"path": "/dev/zero", "orig_name": "zero.md", "meta": FILE_DATA}]
    if token:
        event, _ = app.call("upload", [payload, token], timeout=5)
        assert event == "error"
    else:
        assert app.join(app.fn_index("file"), [payload, ""], timeout=5)["success"] is False
    assert httpx.get(f"{app.url}/config", timeout=5).status_code == 200
    assert "answer" in app.ask("未按时足额清缴碳排放配额会怎样？", timeout=5)


@pytest.mark.slow
def test_host_allow_list_and_same_origin_writes(serve):
    app = serve(QA_ALLOWED_HOSTS="qa.example.org, LAN-Box")
    local = f"127.0.0.1:{app.port}"
    join = {"data": ["碳市场", 5], "fn_index": 0, "session_hash": "h", "trigger_id": None}

    def status(method: str, path: str, host: str, origin: str | None = None) -> int:
        headers = {"Host": host, **({"Origin": origin} if origin else {})}
        body = join if method == "POST" else None
        return httpx.request(method, app.url + path, headers=headers, json=body,
                             timeout=10).status_code  # fmt: skip

    evil = "rebind.evil.example"
    assert status("GET", "/config", evil) == 400
    assert status("GET", "/", f"{evil}:{app.port}") == 400
    assert status("POST", "/gradio_api/queue/join", evil, f"http://{evil}") == 400
    assert status("POST", "/gradio_api/queue/join", local, f"http://{evil}") == 403
    assert status("POST", "/gradio_api/queue/join", local, "null") == 403
    for host in (local, f"localhost:{app.port}", f"[::1]:{app.port}", "qa.example.org",
                 f"lan-box:{app.port}"):  # fmt: skip
        assert status("GET", "/config", host) == 200, host
    assert status("POST", "/gradio_api/queue/join", local, f"http://{local}") == 200
    assert status("POST", "/gradio_api/queue/join", local) == 200  # API clients send no Origin


def test_allowed_hosts_include_loopback_the_bind_address_and_the_setting(monkeypatch):
    monkeypatch.setenv("QA_ALLOWED_HOSTS", " qa.example.org,,*.lan ")
    hosts = allowed_hosts("fe80::1")
    assert {"127.0.0.1", "localhost", "[::1]", "[fe80::1]", "qa.example.org", "*.lan"} <= set(hosts)
    for bad in ("http://qa.example.org/", "qa*.example.org", "*example.org"):
        monkeypatch.setenv("QA_ALLOWED_HOSTS", bad)
        with pytest.raises(QAError, match="QA_ALLOWED_HOSTS"):
            allowed_hosts("127.0.0.1")


@pytest.mark.slow
def test_an_upload_through_the_page_is_indexed_and_gradios_copy_removed(serve):
    app = serve()
    copy = app.upload_through_gradio(
        "林业 碳汇.md", "# 林业碳汇说明\n\n林业碳汇项目可以登记为自愿减排项目。\n".encode()
    )
    assert Path(copy).is_file()
    payload = [{"path": copy, "orig_name": "林业 碳汇.md", "meta": FILE_DATA}]
    result = app.join(app.fn_index("file"), [payload, ""])
    assert result["success"] is True
    assert "1 added" in result["output"]["data"][0]
    assert not Path(copy).exists() and not Path(copy).parent.exists()
    assert [p.name for p in files_under(app.index_dir / "uploads")] == ["林业_碳汇.md"]


@pytest.mark.slow
def test_ask_refuses_long_questions_and_bad_k_with_an_error_object(serve):
    app = serve()
    refused = app.ask("碳" * 10_000_000, 5, timeout=60)
    assert set(refused) == {"error"} and refused["error"]["type"] == "question_too_long"
    assert str(MAX_QUESTION_CHARS) in refused["error"]["message"]
    assert "error" not in app.ask("碳" * MAX_QUESTION_CHARS, 5)
    for k in (None, [5], "5", 0, 21, 2.5, True, {"k": 5}):
        result = app.ask("碳排放配额怎么清缴？", k)
        assert set(result) == {"error"} and result["error"]["type"] == "invalid_k"
        assert "k must be an integer from 1 to 20" in result["error"]["message"]
    for raw in ("Infinity", "-Infinity", "NaN"):
        raw_data = f'{{"data": ["碳排放配额怎么清缴？", {raw}, [], "", "", false, []]}}'
        event, data = app.call("ask", raw_data)
        assert event == "complete" and data[0]["error"]["type"] == "invalid_k", raw
    assert "answer" in app.ask("碳排放配额怎么清缴？", 5.0)  # a number box sends 5.0
    assert app.ask(["not", "text"], 5) == {
        "error": {"type": "invalid_question", "message": "question must be text, not list"}
    }


@pytest.mark.slow
def test_config_and_api_info_reveal_no_library_contents_or_private_names(serve):
    app = serve()
    texts = {path: httpx.get(app.url + path, timeout=10).text
             for path in ("/config", "/", "/gradio_api/info",
                          "/gradio_api/info?all_endpoints=true")}  # fmt: skip
    for path, text in texts.items():
        assert MARKER not in text, path
        assert "market.md" not in text, path
    api_names = {dep["api_name"] for dep in app.config()["dependencies"]}
    assert not api_names & {"upload", "delete", "respond", "library_state"}
    info = json.loads(texts["/gradio_api/info"])
    assert set(info["named_endpoints"]) == {"/ask"} and not info["unnamed_endpoints"]
    assert "upload" not in texts["/gradio_api/info"] and "delete" not in texts["/gradio_api/info"]
    page = uuid.uuid4().hex  # one browser tab: it loads the library, then filters a question
    loaded = app.join(app.fn_index("load"), [], session=page)
    assert loaded["success"] is True and MARKER in json.dumps(loaded, ensure_ascii=False)
    chat = next(d["id"] for d in app.config()["dependencies"] if len(d["inputs"]) == 8)
    question = ["碳排放配额怎么清缴？", [], [], ["market.md"], "", "", 5, "zh"]
    assert app.join(chat, question, session=page)["success"] is True


def test_handlers_are_sync_so_gradio_runs_them_in_worker_threads(tiny_corpus, tmp_path,
                                                                 fake_embedder):  # fmt: skip
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    app = create_app(Index(tmp_path / "index", embedder=fake_embedder))
    handlers = [fn.fn for fn in app.fns.values() if fn.fn is not None]
    assert len(handlers) >= 6  # load, chat, clear, upload, delete, ask
    for handler in handlers:
        assert not inspect.iscoroutinefunction(handler), handler
        assert not inspect.isasyncgenfunction(handler), handler
