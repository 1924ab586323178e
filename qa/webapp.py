"""The Gradio app: chat with cited answers, a Library tab, and the `ask` JSON API.

Kept apart from app.py so tests can build the UI without serving it. Safe by default: binds
127.0.0.1, answers only to allowed Host names, escapes all article text (qa.render), blocks the
index and corpus folders from Gradio's file route, accepts upload paths only inside Gradio's
upload folder, checks uploads on the server, hides error details, and exposes write actions
through the API only when QA_ADMIN_TOKEN is set (and then only with that token).
docs/security.md has the threat model.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import os
import re
import shutil
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from qa import render
from qa.answer import Answer, stream_answer
from qa.build import DEFAULT_CORPUS, build_index, remove_documents, uploads_folder
from qa.documents import IGNORED_NAMES
from qa.errors import EmptyBuildError, IndexBusyError, QAError
from qa.followup import ResolvedQuery
from qa.search import Index

log = logging.getLogger(__name__)

UPLOAD_TYPES = (".html", ".htm", ".md", ".txt", ".pdf", ".docx")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_QUESTION_CHARS = 2000  # longer questions are refused, not truncated
MAX_K = 20
QUEUE_SIZE = int(os.environ.get("QA_QUEUE_SIZE") or 32)  # beyond it: an immediate "queue full"
CONCURRENCY = 2  # two cores: more parallel answers only queue inside the model
WORKER_THREADS = 4  # answers, a library write and the odd blocking call
# Gradio keeps a copy of the page's state per session (each API call without a session is one):
# about 75 KB each, 10,000 by default. The least recently used go first.
SESSION_CAPACITY = 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
GENERIC_ERROR = "出错了，请稍后再试。/ Something went wrong; please try again."
BUSY = "正在更新资料库，请稍后再试。/ The library is being updated; try again in a moment."

EXAMPLES = [
    "中国控制甲烷排放有哪些安排？",
    "中美将建立什么工作组？",
    "联合宣言是什么时候发布的？",
    "What will China do about methane emissions?",
]

CSS = """
.gradio-container { max-width: 1280px !important; margin: auto; }
#qa-header h1 { margin-bottom: 0; font-size: 1.6rem; }
#qa-header p { margin-top: 4px; color: var(--body-text-color-subdued); }
.qa-searched { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.qa-notice { font-size: 0.85em; background: #fff7e6; border-left: 3px solid #f0a020;
             padding: 4px 8px; margin-bottom: 6px; }
.qa-answer { line-height: 1.8; }
a.qa-cite { text-decoration: none; font-weight: 600; font-size: 0.8em; vertical-align: super;
            color: #b4232a; padding: 0 1px; }
.qa-sources h3 { margin: 0 0 8px 0; font-size: 1rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
           margin-bottom: 10px; background: var(--background-fill-secondary); }
.qa-card:target { outline: 2px solid #b4232a; }
.qa-card-head { font-weight: 600; }
.qa-n { color: #b4232a; }
.qa-source { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 6px 0; }
.qa-text { line-height: 1.75; font-size: 0.95em; }
.qa-text mark { background: #ffe58f; padding: 0 1px; border-radius: 2px; }
.qa-also { font-size: 0.8em; margin-top: 6px; color: var(--body-text-color-subdued); }
"""


def _admin_token() -> str | None:
    return os.environ.get("QA_ADMIN_TOKEN") or None


def _auth() -> tuple[str, str] | None:
    value = os.environ.get("QA_AUTH", "")
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise QAError("QA_AUTH must look like user:password")
    return user, password


def safe_upload_name(name: str) -> str:
    """A file name we choose: the basename, reduced to safe characters, with a checked suffix.

    Raises ValueError for a type we don't read.
    """
    base = unicodedata.normalize("NFKC", Path(str(name).replace("\\", "/")).name)
    suffix = Path(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ValueError(f"{base}: unsupported type; upload one of {', '.join(UPLOAD_TYPES)}")
    stem = re.sub(r"[^\w\-]+", "_", Path(base).stem).strip("._") or "upload"
    if IGNORED_NAMES.match(f"{stem}{suffix}"):
        stem = f"upload_{stem}"  # README.md and the like are never indexed
    return f"{stem[:80]}{suffix}"


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise ValueError(f"question must be text, not {type(question).__name__}")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is longer than {MAX_QUESTION_CHARS} characters; shorten it")
    return question


def check_k(k: object) -> int:
    """The number of passages: an integer from 1 to MAX_K (5.0 from a number box is fine)."""
    number = isinstance(k, (int, float)) and not isinstance(k, bool) and math.isfinite(k)
    if not number or k != int(k) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer from 1 to {MAX_K}, not {repr(k)[:40]}")
    return int(k)


def gradio_upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(os.path.realpath(get_upload_folder()))


def uploaded_files(paths: list[str]) -> list[Path]:
    """The paths, resolved, if every one lies inside Gradio's upload folder; else ValueError.

    Gradio runs the same check before it reads a file (build_server makes it run); this one
    keeps upload() safe on its own. The real path is checked, so links out of it don't count.
    """
    folder = gradio_upload_folder()
    resolved = [Path(os.path.realpath(path)) for path in paths]
    for path in resolved:
        if not path.is_relative_to(folder) or path == folder:
            raise ValueError(f"{path.name}: not an uploaded file; upload it through the page")
    return resolved


def remove_gradio_copies(paths: list[Path]) -> None:
    """Delete Gradio's copies of uploaded files (and their folders when empty)."""
    folder = gradio_upload_folder()
    for path in paths:
        path.unlink(missing_ok=True)
        if path.parent != folder:
            with contextlib.suppress(OSError):  # not empty: another upload shares it
                path.parent.rmdir()


class Library:
    """Upload and delete documents; one update at a time (the index's writer lock).

    A file copied into uploads/ stays there only if the index holds it; anything refused,
    skipped or failed is removed again, or the next start-up would index it behind the user's
    back.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self.folder = uploads_folder(index.index_dir)
        for stale in self.folder.glob(".*.part") if self.folder.is_dir() else ():
            stale.unlink(missing_ok=True)  # left by a crash mid-copy

    def rows(self) -> list[list]:
        return [[d["title"], d["date"] or "", d["passages"], d["source"] or "", d["doc_id"]]
                for d in self.index.documents()]  # fmt: skip

    def add(self, paths: list[str], progress=None) -> str:
        if not paths:
            return "请选择文件。/ Choose a file first."
        staged = []
        for path in paths:
            source = Path(path)
            name = safe_upload_name(source.name)
            if not source.is_file():
                raise ValueError(f"{name}: the upload is gone; choose the file again")
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise ValueError(f"{name}: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
            staged.append((source, name))
        self.folder.mkdir(parents=True, exist_ok=True)
        copied: list[Path] = []
        try:
            for source, name in staged:
                copied.append(self._copy_in(source, name))
            report = build_index([self.folder], self.index.index_dir,
                                 embedder=self.index.embedder, progress=progress)  # fmt: skip
        except EmptyBuildError as error:
            self._remove(copied)
            raise ValueError(self._shown(str(error))) from None
        except BaseException:
            self._remove(copied)
            raise
        indexed = {d["path"] for d in self.index.documents()}
        refused = [target for target in copied if str(target) not in indexed]
        self._remove(refused)
        lines = [report.summary()]
        for target in refused:
            why = next((w for w in report.warnings if str(target) in w), "skipped")
            lines.append(f"未添加 / not added: {self._shown(why)}")
        return "\n\n".join(lines)

    def _copy_in(self, source: Path, name: str) -> Path:
        """Copy under a name no other upload has (a b.md and a_b.md both become a_b…)."""
        stem, suffix = Path(name).stem, Path(name).suffix
        temp = self.folder / f".{name}.part"
        try:
            shutil.copyfile(source, temp)
            for n in range(1, 1000):
                target = self.folder / (name if n == 1 else f"{stem}-{n}{suffix}")
                try:
                    os.link(temp, target)  # atomic, and never replaces an existing file
                    return target.resolve()
                except FileExistsError:
                    continue
            raise ValueError(f"{name}: too many uploads with this name; rename the file")
        finally:
            temp.unlink(missing_ok=True)

    def _remove(self, targets: list[Path]) -> None:
        for target in targets:
            target.unlink(missing_ok=True)

    def _shown(self, text: str) -> str:
        """A build message without the server's folders in it: /srv/x/uploads/a.md → a.md."""
        return re.sub(r"(?<![\w.])/(?:[^/\s:,;]+/)+", "", text)

    def delete(self, doc_id: str) -> str:
        if not doc_id:
            return "请选择要删除的文件。/ Choose a document first."
        rows = {d["doc_id"]: d for d in self.index.documents()}
        if doc_id not in rows:
            raise ValueError(f"{doc_id}: not in the library")
        report = remove_documents([doc_id], self.index.index_dir)
        path = Path(rows[doc_id].get("path") or "")
        if path.is_file() and path.resolve().parent == self.folder.resolve():
            path.unlink()  # else the next start-up would index it again
        return report.summary()


def _check_token(token: str | None) -> None:
    expected = _admin_token()
    if expected and not hmac.compare_digest((token or "").encode(), expected.encode()):
        raise PermissionError("admin token required")


def chat_events(index: Index, message, chat, turns, docs, date_from, date_to, k, lang):
    """One chat turn as (chat, turns, sources, input box) updates, streamed."""
    chat = list(chat or [])
    turns = list(turns or [])
    chat.append({"role": "user", "content": render.escape(str(message or "")[:MAX_QUESTION_CHARS])})
    chat.append({"role": "assistant", "content": "…"})
    turn = len(turns)
    yield chat, turns, "", ""
    shown = ""
    try:
        question = check_question(message or "")
        for event in stream_answer(question, check_k(k), index=index, history=turns,
                                   docs=docs or None, date_from=date_from or None,
                                   date_to=date_to or None):  # fmt: skip
            if isinstance(event, ResolvedQuery):
                continue
            if isinstance(event, str):
                shown += event
                chat[-1] = {"role": "assistant", "content": render.escape(shown)}
                yield chat, turns, "", ""
            elif isinstance(event, Answer):
                chat[-1] = {"role": "assistant",
                            "content": render.answer_html(event, turn, lang)}  # fmt: skip
                turns.append((message, event.text))
                yield chat, turns, render.sources_html(event, turn, lang), ""
    except ValueError as error:
        chat[-1] = {"role": "assistant", "content": render.escape(str(error))}
        yield chat, turns, "", ""
    except Exception:
        log.exception("answer failed")
        chat[-1] = {"role": "assistant", "content": render.escape(GENERIC_ERROR)}
        yield chat, turns, "", ""


def create_app(index: Index):
    import gradio as gr

    library = Library(index)
    # Without a token, upload and delete serve only the page: no API name, no docs entry.
    writes_public = bool(_admin_token())

    def respond(message, chat, turns, docs, date_from, date_to, k, lang):
        yield from chat_events(index, message, chat, turns, docs, date_from, date_to, k, lang)

    def ask(question: str, k: float = 5) -> dict:
        """Answer a question; JSON with the answer, found, the searched query and citations.

        The question is at most 2000 characters (MAX_QUESTION_CHARS) and k, the number of
        passages, an integer from 1 to 20; otherwise the result is {"error": "..."}.
        """
        from qa.answer import answer

        try:
            question, k = check_question(question), check_k(k)
            return render.ask_payload(answer(question, k, index=index))
        except ValueError as error:
            return {"error": str(error)}

    def write(action, token, failed: str) -> str:
        """Run a library change; every failure becomes a message, details go to the log."""
        try:
            _check_token(token)
            return action()
        except IndexBusyError:
            return BUSY
        except (ValueError, PermissionError, QAError) as error:
            return f"{failed}：{error}"
        except Exception:
            log.exception("library change failed")
            return GENERIC_ERROR

    def upload(files, token, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        paths = [str(getattr(f, "name", f)) for f in (files or [])]
        accepted: list[Path] = []

        def add() -> str:
            accepted.extend(uploaded_files(paths))
            return library.add([str(p) for p in accepted],
                               lambda done, total: progress(done / max(total, 1)))  # fmt: skip

        try:
            message = write(add, token, "未添加 / not added")
        finally:
            remove_gradio_copies(accepted)  # indexed or refused, the copy is not needed
        return message, *library_state(), None  # None empties the file box

    def delete(doc_id, token):
        message = write(lambda: library.delete(doc_id), token, "未删除 / not deleted")
        rows, choices = library.rows(), doc_choices()
        return (message, rows, gr.update(choices=choices, value=None),
                gr.update(choices=choices, value=[]))  # fmt: skip

    def doc_choices() -> list[tuple[str, str]]:
        return [(f"{d['title']} ({d['date'] or '—'})", d["doc_id"]) for d in index.documents()]

    def library_state():
        """The table and document lists, sent on page load rather than baked into /config."""
        choices = doc_choices()
        return library.rows(), gr.update(choices=choices), gr.update(choices=choices)

    with gr.Blocks(title="政策问答 · Policy QA") as app:
        with gr.Column(elem_id="qa-header"):
            gr.Markdown("# 政策问答 · Policy QA\n"
                        "就中国气候与碳市场政策提问；每句回答都引用原文段落（文件、日期、段落号）。"
                        " Ask in Chinese or English; every sentence cites its source paragraph.")  # fmt: skip
        turns = gr.State([])
        with gr.Tab("问答 · Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(height=560, label="对话 · Chat", sanitize_html=True,
                                         render_markdown=True, buttons=["copy"],
                                         elem_id="qa-chat")  # fmt: skip
                    with gr.Row():
                        box = gr.Textbox(placeholder="输入问题，回车发送 · Ask a question, press Enter",
                                         show_label=False, scale=8, autofocus=True,
                                         max_length=MAX_QUESTION_CHARS, elem_id="qa-input")  # fmt: skip
                        clear = gr.Button("清空 · Clear", scale=1)
                    gr.Examples(EXAMPLES, inputs=box, label="示例 · Examples")
                with gr.Column(scale=2):
                    sources = gr.HTML(elem_id="qa-sources")
            with gr.Accordion("选项 · Options", open=False), gr.Row():
                docs = gr.Dropdown(choices=[], multiselect=True, label="限定文件 · Documents")
                date_from = gr.Textbox(label="起始日期 · From", placeholder="2021-01-01")
                date_to = gr.Textbox(label="截止日期 · To", placeholder="2025-12-31")
                k = gr.Slider(1, 10, value=5, step=1, label="段落数 · Passages")
                lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh",
                                label="界面 · Language")  # fmt: skip
        with gr.Tab("资料库 · Library"):
            table = gr.Dataframe(value=[], interactive=False, wrap=True,
                                 headers=["标题 Title", "日期 Date", "段落 ¶", "来源 Source", "ID"])  # fmt: skip
            token = gr.Textbox(label="管理口令 · Admin token", type="password",
                               visible=writes_public)  # fmt: skip
            with gr.Row():
                files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES),
                                label="添加文章 · Add articles (.html .htm .md .txt .pdf .docx)",
                                elem_id="qa-upload")  # fmt: skip
                with gr.Column():
                    add = gr.Button("添加并更新索引 · Add and index", variant="primary")
                    victim = gr.Dropdown(choices=[], label="删除文件 · Delete")
                    remove = gr.Button("删除 · Delete", variant="stop")
            status = gr.Markdown()
        api_question = gr.Textbox(visible=False)
        api_k = gr.Number(value=5, visible=False)
        api_out = gr.JSON(visible=False)

        hidden = {"api_name": False, "api_visibility": "private"}  # no name in /config either

        def writes(name: str) -> dict:
            return {"api_name": name, "api_visibility": "public"} if writes_public else hidden

        inputs = [box, chatbot, turns, docs, date_from, date_to, k, lang]
        app.load(library_state, None, [table, victim, docs], **hidden)
        box.submit(respond, inputs, [chatbot, turns, sources, box], concurrency_id="answer",
                   **hidden)  # fmt: skip
        clear.click(lambda: ([], [], ""), None, [chatbot, turns, sources], **hidden)
        add.click(upload, [files, token], [status, table, victim, docs, files],
                  concurrency_limit=1, concurrency_id="write", **writes("upload"))  # fmt: skip
        remove.click(delete, [victim, token], [status, table, victim, docs], concurrency_limit=1,
                     concurrency_id="write", **writes("delete"))  # fmt: skip
        # Raw inputs: ask() checks them itself, so any bad k gets the same {"error": ...} shape.
        api_question.submit(ask, [api_question, api_k], api_out, api_name="ask",
                            concurrency_id="answer", preprocess=False)  # fmt: skip
    return app


class SameOriginWrites:
    """ASGI middleware: a browser POST from another site (Origin ≠ Host) is refused.

    Gradio's CORS headers stop other sites from reading responses, not from sending an upload.
    Clients that send no Origin (gradio_client, curl) are not browsers acting for a page.
    """

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] not in self.SAFE:
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and urlsplit(origin).netloc != host:
                from starlette.responses import PlainTextResponse

                refused = PlainTextResponse("cross-origin request refused", status_code=403)
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _cap_worker_threads() -> None:
    """Starlette runs blocking calls outside Gradio's queue on AnyIO's pool of 40 threads."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS


def allowed_hosts(host: str) -> list[str]:
    """Host names the server answers to: loopback, --host and QA_ALLOWED_HOSTS (comma-separated).

    A page on another site that rebinds its DNS name to this machine still sends its own name
    in Host, so it is refused (DNS rebinding).
    """
    extra = [h.strip().lower() for h in os.environ.get("QA_ALLOWED_HOSTS", "").split(",")]
    hosts = []
    for name in [*LOOPBACK_HOSTS, host.lower(), *filter(None, extra)]:
        if (
            "/" in name
            or (name != "*" and "*" in name[1:])
            or (name[:1] == "*" != name[:2] != "*.")
        ):
            raise QAError(f"QA_ALLOWED_HOSTS: {name!r} is not a host name; use e.g. qa.example.org")
        hosts.append(name)
        if ":" in name and not name.startswith("["):
            hosts.append(f"[{name}]")  # IPv6 literals arrive bracketed in Host
    return list(dict.fromkeys(hosts))


def build_server(index: Index, host: str = "127.0.0.1"):
    """The ASGI app serve() runs: Gradio mounted on FastAPI with the checks of docs/security.md."""
    import gradio as gr
    from fastapi import FastAPI
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    blocks = create_app(index)
    blocks.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    blocks.max_threads = WORKER_THREADS  # Gradio's default pool is 40 threads
    blocks.state_session_capacity = SESSION_CAPACITY
    server = FastAPI(on_startup=[_cap_worker_threads])
    server.add_middleware(SameOriginWrites)
    # Added last, so it runs first: nothing else sees a request for a foreign Host.
    server.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host),
                          www_redirect=False)  # fmt: skip
    blocked = [str(index.index_dir.resolve()), str(DEFAULT_CORPUS.resolve())]
    gr.mount_gradio_app(server, blocks, path="/", auth=_auth(), blocked_paths=blocked,
                        show_error=False, max_file_size=MAX_UPLOAD_BYTES, css=CSS,
                        footer_links=["api"])  # fmt: skip
    # Gradio accepts an input file only from its upload folder once the app "has launched",
    # which launch() sets and mount_gradio_app doesn't: unset, a request naming any path on
    # disk (/etc/passwd, /dev/zero) has the file hashed and copied on the event loop.
    blocks.has_launched = True
    return server


def serve(index_dir: Path | None, host: str, port: int) -> None:
    import uvicorn

    from qa.text import warm_up

    index = Index(index_dir)
    warm_up()
    index.search("碳排放", k=1)  # the first question should be as fast as the rest
    server = build_server(index, host)
    print(f"* Running on http://{host}:{port}", flush=True)
    # Open streams (clients that went away mid-answer) must not hold a shutdown for long.
    uvicorn.run(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
