"""The Gradio app: chat with cited answers, a Library tab, and the `ask` JSON API.

Kept apart from app.py so tests can build the UI without serving it. Safe by default: binds
127.0.0.1, answers only to allowed Host names, escapes all article text (qa.render), blocks the
index and corpus folders from Gradio's file route, accepts upload paths only inside Gradio's
upload folder, checks uploads on the server, hides error details, and exposes write actions
through the API only when QA_ADMIN_TOKEN is set (and then only with that token).
docs/security.md has the threat model.
"""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from qa import docview, render
from qa.answer import answer
from qa.build import DEFAULT_CORPUS
from qa.chat_ui import (  # noqa: F401 (re-exported: callers import them from qa.webapp)
    CHAT_CSS,
    CHAT_HEAD,
    SEARCHED_MAX,
    answer_bubble,
    box_note,
    chat_events,
    sources_panel,
)
from qa.conversation_ui import ConversationPanel
from qa.errors import QAError
from qa.library import (  # noqa: F401 (safe_upload_name: re-exported for callers of qa.webapp)
    MAX_UPLOAD_BYTES,
    Library,
    safe_upload_name,
)
from qa.library_ui import LibraryTab
from qa.search import Index
from qa.text import has_substance
from qa.ui_checks import (  # noqa: F401 (re-exported: callers import them from qa.webapp)
    InputError,
    check_dates,
    check_documents,
    check_history,
    check_in_force,
    check_k,
    check_question,
    gradio_hints,
    parse_day,
)
from qa.ui_text import (  # noqa: F401 (re-exported)
    BUSY,
    CSS,
    EXAMPLES,
    GENERIC_ERROR,
    HEAD,
    MAX_HISTORY_TURNS,
    MAX_K,
    MAX_QUESTION_CHARS,
    MESSAGES,
    UI,
)

log = logging.getLogger(__name__)

QUEUE_SIZE = int(os.environ.get("QA_QUEUE_SIZE") or 32)  # beyond it: an immediate "queue full"
CONCURRENCY = 2  # two cores: more parallel answers only queue inside the model
WORKER_THREADS = 4  # answers, a library write and the odd blocking call
# Gradio keeps a copy of the page's state per session (each API call without a session is one):
# about 75 KB each, 10,000 by default. The least recently used go first.
SESSION_CAPACITY = 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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


def _check_token(token: str | None) -> None:
    expected = _admin_token()
    if expected and not hmac.compare_digest((token or "").encode(), expected.encode()):
        raise PermissionError("admin token required")


def ask_api(
    index: Index,
    question,
    k,
    documents,
    date_from,
    date_to,
    in_force,
    history,
    include_undated: object = True,
) -> dict:
    """The `ask` endpoint's result: ask_payload, or {"error": {"type": ..., "message": ...}}."""
    try:
        question, k = check_question(question), check_k(k)
        if not has_substance(question):
            raise InputError("empty_question")
        result = answer(question, k, index=index, history=check_history(history),
                        docs=check_documents(documents, index), in_force=check_in_force(in_force),
                        include_undated=include_undated is not False,
                        **check_dates(date_from, date_to))  # fmt: skip
        return render.ask_payload(result)
    except InputError as error:
        return {"error": {"type": error.kind, "message": error.text("api")}}
    except Exception:
        log.exception("ask failed")
        return {"error": {"type": "internal", "message": UI["en"]["error"]}}


def header_markdown(library: Library | None, lang: str) -> str:
    words = UI[lang]
    size = ""
    if library is not None:
        documents, passages = library.size()
        size = "\n\n" + words["size"].format(documents=documents, passages=passages)
    return f"# {words['title']}\n{words['intro']}{size}"


def writes_enabled(host: str) -> bool:
    """Without a login (QA_AUTH), only a loopback-bound app may change the library."""
    return bool(_auth()) or host.strip("[]").lower() in LOOPBACK_HOSTS


def create_app(index: Index, host: str = "127.0.0.1"):
    import gradio as gr

    library = Library(index)
    # Without a token, upload and delete serve only the page: no API name, no docs entry.
    writes_public = bool(_admin_token())
    enabled = writes_enabled(host)
    if not enabled:
        log.warning("no login (QA_AUTH) and bound to %s, not a loopback address: the Library's "
                    "upload, delete, restore and edit are disabled", host)  # fmt: skip
    tab = LibraryTab(library, _check_token, enabled, writes_public)
    panel = ConversationPanel(index)
    zh = UI["zh"]

    excluded: set[str] = set()  # sessions that unticked "include undated" (inputs stay as is)

    @gradio_hints
    def set_undated(value, request: gr.Request):
        session = getattr(request, "session_hash", None) or ""
        (excluded.discard if value else excluded.add)(session)

    @gradio_hints
    def respond(message, chat, turns, docs, date_from, date_to, k, lang, request: gr.Request):
        undated = (getattr(request, "session_hash", None) or "") not in excluded
        yield from chat_events(index, message, chat, turns, docs, date_from, date_to, k, lang,
                               undated)  # fmt: skip

    def ask(question: str, k: float = 5, documents: list | None = None, date_from: str = "",
            date_to: str = "", in_force: bool = False, history: list | None = None) -> dict:  # fmt: skip
        """Answer a question: JSON with the answer, found, the searched query and citations
        (doc_id, title, provision, locator, date, page, paragraph, paragraph_end, quotes).

        question: at most 2000 characters; k: passages to search, an integer from 1 to 20;
        documents: doc ids to search in; date_from/date_to: 2024-01-01, 2024/01/01, 2024年1月1日
        or 2024 (undated documents are kept); in_force: only documents in force; history:
        earlier [question, answer] pairs.
        Bad input gives {"error": {"type": "invalid_k" | "question_too_long" | ..., "message"}}.
        """
        return ask_api(index, question, k, documents, date_from, date_to, in_force, history)

    def page_state():
        """On page load (in Chinese, the page's first language): the library, its size in the
        header, and examples drawn from it."""
        samples = [[q] for q in library.examples() or EXAMPLES]
        return (*tab.state(), header_markdown(library, "zh"), gr.update(samples=samples))

    @gradio_hints
    def switch_language(lang, request: gr.Request):
        """Every label, placeholder, button and heading of the page in the chosen language."""
        lang = lang if lang in UI else "zh"
        tab.set_lang(getattr(request, "session_hash", None), lang)
        w = UI[lang]
        date = {"info": w["date_info"]}
        return (header_markdown(library, lang), gr.update(label=w["chat_tab"]),
                gr.update(label=w["library_tab"]), gr.update(label=w["chat"]),
                gr.update(placeholder=w["placeholder"]), gr.update(value=w["clear"]),
                box_note(lang), gr.update(label=w["examples"]), gr.update(label=w["options"]),
                gr.update(label=w["docs"]), gr.update(label=w["from"], **date),
                gr.update(label=w["to"], **date), gr.update(label=w["k"], info=w["k_info"]),
                gr.update(label=w["undated"]), *tab.relabel(lang),
                *panel.relabel(lang))  # fmt: skip

    with gr.Blocks(title="政策问答 · Policy QA") as app:
        with gr.Row(elem_id="qa-top"):
            header = gr.Markdown(header_markdown(None, "zh"), elem_id="qa-header")
            lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh",
                            label="语言 · Language", elem_id="qa-lang", scale=0,
                            min_width=220)  # fmt: skip
        turns = gr.State([])
        with gr.Tab(zh["chat_tab"], elem_id="qa-chat-tab") as chat_tab:
            with gr.Row(elem_id="qa-main"):
                panel.build()
                with gr.Column(scale=3, elem_id="qa-left"):
                    chatbot = gr.Chatbot(height=520, label=zh["chat"], sanitize_html=True,
                                         render_markdown=True, buttons=["copy"],
                                         elem_id="qa-chat")  # fmt: skip
                    with gr.Row(elem_id="qa-ask"):
                        box = gr.Textbox(placeholder=zh["placeholder"], show_label=False, scale=8,
                                         autofocus=True, lines=1, max_lines=6,
                                         max_length=MAX_QUESTION_CHARS, elem_id="qa-input")  # fmt: skip
                        clear = gr.Button(zh["clear"], scale=1, min_width=80)
                    note = gr.HTML(box_note("zh"), elem_id="qa-meta", padding=False)
                    examples = gr.Dataset(components=["textbox"], samples=[[q] for q in EXAMPLES],
                                          label=zh["examples"], elem_id="qa-examples")  # fmt: skip
                with gr.Column(scale=2, elem_id="qa-right"):
                    sources = gr.HTML(elem_id="qa-sources")
            with gr.Accordion(zh["options"], open=False) as options, gr.Row():
                docs = gr.Dropdown(choices=[], multiselect=True, label=zh["docs"])
                date_from = gr.Textbox(label=zh["from"], placeholder="2021-01-01",
                                       info=zh["date_info"], elem_id="qa-from")  # fmt: skip
                date_to = gr.Textbox(label=zh["to"], placeholder="2025-12-31",
                                     info=zh["date_info"], elem_id="qa-to")  # fmt: skip
                undated = gr.Checkbox(value=True, label=zh["undated"], elem_id="qa-undated")
                k = gr.Slider(1, 10, value=5, step=1, label=zh["k"], info=zh["k_info"],
                              elem_id="qa-k")  # fmt: skip
        with gr.Tab(zh["library_tab"], elem_id="qa-library-tab") as library_tab:
            tab.build()
        api_inputs = [gr.Textbox(visible=False, label="question"),
                      gr.Number(value=5, visible=False, label="k"),
                      gr.JSON(value=[], visible=False, label="documents"),
                      gr.Textbox(value="", visible=False, label="date_from"),
                      gr.Textbox(value="", visible=False, label="date_to"),
                      gr.Checkbox(value=False, visible=False, label="in_force"),
                      gr.JSON(value=[], visible=False, label="history")]  # fmt: skip
        api_out = gr.JSON(visible=False, label="answer")

        hidden = {"api_name": False, "api_visibility": "private"}  # no name in /config either

        def writes(name: str) -> dict:
            return {"api_name": name, "api_visibility": "public"} if writes_public else hidden

        inputs = [box, chatbot, turns, docs, date_from, date_to, k, lang]
        undated.change(set_undated, [undated], None, **hidden)
        lists = [tab.table, tab.victim, docs, tab.edit_doc, tab.trash]
        app.load(page_state, None, [*lists, header, examples], **hidden)
        lang.change(switch_language, [lang],
                    [header, chat_tab, library_tab, chatbot, box, clear, note, examples, options,
                     docs, date_from, date_to, k, undated, *tab.relabelled(),
                     *panel.relabelled()],
                    **hidden)  # fmt: skip
        examples.click(lambda sample: sample[0], examples, box, **hidden)
        answered = box.submit(respond, inputs, [chatbot, turns, sources, box, note],
                              concurrency_id="answer", **hidden)  # fmt: skip
        tab.wire(docs, hidden, writes)
        panel.wire(app, chatbot, turns, sources, lang, answered, clear, hidden)
        # Raw inputs: ask() checks them itself, so any bad value gets the same error shape.
        api_inputs[0].submit(ask, api_inputs, api_out, api_name="ask", concurrency_id="answer",
                             preprocess=False)  # fmt: skip
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

    blocks = create_app(index, host)
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
                        show_error=False, max_file_size=MAX_UPLOAD_BYTES, css=CSS + CHAT_CSS,
                        head=HEAD + CHAT_HEAD,
                        footer_links=["api"])  # fmt: skip
    # Gradio accepts an input file only from its upload folder once the app "has launched",
    # which launch() sets and mount_gradio_app doesn't: unset, a request naming any path on
    # disk (/etc/passwd, /dev/zero) has the file hashed and copied on the event loop.
    blocks.has_launched = True
    docview.mount(server, index)  # /doc/<id>: the document viewer, behind the same checks
    return server


def serve(index_dir: Path | None, host: str, port: int) -> None:
    import uvicorn

    from qa.reader import reader_for
    from qa.text import warm_up

    index = Index(index_dir)
    warm_up()
    reader_for(index.embedder.model_id)  # exported on the first run (about a minute), else loaded
    # The first question should be as fast as the rest: load the search and the answer path
    # (sentence vectors, the structure look-ups, opencc) before the first user waits for them.
    answer("碳排放配额怎么清缴？", index=index, use_llm=False)
    server = build_server(index, host)
    print(f"* Running on http://{host}:{port}", flush=True)
    # Open streams (clients that went away mid-answer) must not hold a shutdown for long.
    uvicorn.run(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
