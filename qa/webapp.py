"""The Gradio app: chat with cited answers, a Library tab, and the `ask` JSON API.

Kept apart from app.py so tests can build the UI without serving it. Safe by default: binds
127.0.0.1, answers only to allowed Host names, escapes all article text (qa.render), blocks the
index and corpus folders from Gradio's file route, accepts upload paths only inside Gradio's
upload folder, checks uploads on the server, hides error details, and exposes write actions
through the API only when QA_ADMIN_TOKEN is set (and then only with that token).
docs/security.md has the threat model.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hmac
import logging
import math
import os
import re
import unicodedata
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from qa import docview, render
from qa.answer import Answer, answer, stream_answer
from qa.build import DEFAULT_CORPUS
from qa.errors import IndexBusyError, QAError
from qa.followup import ResolvedQuery
from qa.library import (  # noqa: F401 (safe_upload_name: re-exported for callers of qa.webapp)
    MAX_UPLOAD_BYTES,
    UPLOAD_TYPES,
    Library,
    remove_gradio_copies,
    safe_upload_name,
    uploaded_files,
)
from qa.search import Index
from qa.text import has_substance

log = logging.getLogger(__name__)

QUEUE_SIZE = int(os.environ.get("QA_QUEUE_SIZE") or 32)  # beyond it: an immediate "queue full"
CONCURRENCY = 2  # two cores: more parallel answers only queue inside the model
WORKER_THREADS = 4  # answers, a library write and the odd blocking call
# Gradio keeps a copy of the page's state per session (each API call without a session is one):
# about 75 KB each, 10,000 by default. The least recently used go first.
SESSION_CAPACITY = 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
GENERIC_ERROR = "出错了，请稍后再试。/ Something went wrong; please try again."
BUSY = "正在更新资料库，请稍后再试。/ The library is being updated; try again in a moment."
SEARCHED_MAX = 80  # the echoed 检索：… line of a follow-up is cut here

MAX_QUESTION_CHARS = 2000  # longer questions are refused, not truncated
MAX_K = 20
MAX_HISTORY_TURNS = 20  # of the API's history; follow-ups only look at the last few

EXAMPLES = [  # when no document of the library gives one (qa.library.Library.examples)
    "中国控制甲烷排放有哪些安排？",
    "中美将建立什么工作组？",
    "联合宣言是什么时候发布的？",
    "What will China do about methane emissions?",
]

# Every text of the page, per UI language (the 中文/English switch changes them all).
UI = {
    "zh": {"title": "政策问答", "size": "{documents} 份文件 · {passages} 段",
           "intro": "就中国气候与碳市场政策提问；每句回答都引用原文段落（文件、日期、段落号）。",
           "chat_tab": "问答", "library_tab": "资料库", "chat": "对话",
           "placeholder": "输入问题，回车发送", "hint": f"回车发送，Shift+回车换行；最多 {MAX_QUESTION_CHARS} 字",
           "empty": "请输入问题：至少要有一个字或词。", "clear": "清空", "examples": "示例",
           "options": "选项", "docs": "限定文件", "from": "起始日期", "to": "截止日期",
           "date_info": "如 2024-01-01、2024/01/01、2024年1月1日 或 2024",
           "k": "检索段落数", "k_info": "每个问题检索多少段原文", "searched_k": "（检索 {k} 段）",
           "back": "↑ 回到回答", "error": "出错了，请稍后再试。",
           "headers": ["标题", "日期", "段落", "来源", "ID"], "token": "管理口令",
           "files": "添加文章（.html .htm .md .txt .pdf .docx，最大 20 MB）",
           "add": "添加并更新索引", "victim": "删除文件", "remove": "删除"},
    "en": {"title": "Policy QA", "size": "{documents} documents · {passages} passages",
           "intro": "Ask about China's climate and carbon-market policy, in Chinese or English; "
                    "every sentence cites its source paragraph (document, date, paragraph).",
           "chat_tab": "Chat", "library_tab": "Library", "chat": "Chat",
           "placeholder": "Ask a question, press Enter",
           "hint": f"Enter sends, Shift+Enter starts a new line; at most {MAX_QUESTION_CHARS} characters",
           "empty": "Type a question: at least one word.", "clear": "Clear",
           "examples": "Examples", "options": "Options", "docs": "Only these documents",
           "from": "From", "to": "To", "date_info": "e.g. 2024-01-01, 2024/01/01, 2024年1月1日 or 2024",
           "k": "Passages searched", "k_info": "How many source paragraphs each question searches",
           "searched_k": " ({k} passages searched)", "back": "↑ Back to the answer",
           "error": "Something went wrong; please try again.",
           "headers": ["Title", "Date", "¶", "Source", "ID"], "token": "Admin token",
           "files": "Add articles (.html .htm .md .txt .pdf .docx, up to 20 MB)",
           "add": "Add and index", "victim": "Delete a document", "remove": "Delete"},
}  # fmt: skip

# Input errors: `type` for the API, the message in the UI language ("api": English, with the
# API's own field names).
MESSAGES = {
    "zh": {"invalid_question": "问题必须是文字。", "empty_question": UI["zh"]["empty"],
           "question_too_long": f"问题超过 {MAX_QUESTION_CHARS} 字，请缩短后再问。",
           "invalid_k": f"段落数应为 1 到 {MAX_K} 之间的整数。",
           "invalid_date": "{field}“{value}”无法识别：请写成 2024-01-01、2024/01/01、2024年1月1日 或 2024。",
           "invalid_date_range": "起始日期晚于截止日期（{start} 晚于 {end}）：请对调或修改日期。",
           "invalid_documents": "限定文件应为文件 ID 的列表。",
           "unknown_document": "文件“{value}”已不在资料库中：请重新选择限定文件。",
           "invalid_in_force": "in_force 应为 true 或 false。",
           "invalid_history": "history 应为 [问题, 回答] 对的列表。"},
    "en": {"invalid_question": "question must be text, not {type_name}",
           "empty_question": "the question has no words; ask with at least one",
           "question_too_long": f"question is longer than {MAX_QUESTION_CHARS} characters; shorten it",
           "invalid_k": f"k must be an integer from 1 to {MAX_K}, not {{value}}",
           "invalid_date": "{field} {value} is not a date; write 2024-01-01, 2024/01/01, 2024年1月1日 or 2024",
           "invalid_date_range": "{field} {start} is after {field2} {end}; swap them",
           "invalid_documents": "documents must be a list of document ids, not {value}",
           "unknown_document": "document {value} is not in the library; list the ids with "
                               "`python index_build.py --list` or see the Library tab",
           "invalid_in_force": "in_force must be true or false, not {value}",
           "invalid_history": f"history must be a list of at most {MAX_HISTORY_TURNS} "
                              "[question, answer] pairs of text"},
}  # fmt: skip
FIELDS = {"zh": {"date_from": "起始日期", "date_to": "截止日期"},
          "en": {"date_from": "From", "date_to": "To"}, "api": {}}  # fmt: skip


class InputError(ValueError):
    """Input the user can correct: `kind` names it for the API, `text(lang)` explains it."""

    def __init__(self, kind: str, **details: object) -> None:
        self.kind, self.details = kind, details
        super().__init__(self.text("api"))

    def text(self, lang: str) -> str:
        names = FIELDS.get(lang, {})
        details = {key: names.get(value, value) if key.startswith("field") else value
                   for key, value in self.details.items()}  # fmt: skip
        return MESSAGES["zh" if lang == "zh" else "en"][self.kind].format(**details)


def _shown(value: object) -> str:
    return repr(value)[:40]


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise InputError("invalid_question", type_name=type(question).__name__)
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError("question_too_long")
    return question


def check_k(k: object) -> int:
    """The number of passages: an integer from 1 to MAX_K (5.0 from a number box is fine)."""
    number = isinstance(k, (int, float)) and not isinstance(k, bool) and math.isfinite(k)
    if not number or k != int(k) or not 1 <= k <= MAX_K:
        raise InputError("invalid_k", value=_shown(k))
    return int(k)


# 2024-01-01, 2024/1/1, 2024.01.01, 2024年1月1日, 2024-01 and 2024年1月 (a month), 2024 (a year).
_DAY = re.compile(
    r"(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?|月)?)?\s*年?", re.ASCII
)


def parse_day(value: object, field: str, end: bool = False) -> str | None:
    """An ISO date, or None for no date. A year or month alone is its first day, or with `end`
    its last: From 2024 and To 2024 cover the whole year."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else None
    if text == "":
        return None
    match = _DAY.fullmatch(text or "")
    try:
        if match is None:
            raise ValueError(text)
        year, month, day = (int(g) if g else None for g in match.groups())
        month = month or (12 if end else 1)
        last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 1
        return dt.date(year, month, day or (last if end else 1)).isoformat()
    except ValueError:
        raise InputError("invalid_date", field=field, value=_shown(value)) from None


def check_dates(date_from: object, date_to: object) -> dict[str, str | None]:
    start, end = parse_day(date_from, "date_from"), parse_day(date_to, "date_to", end=True)
    if start and end and start > end:
        raise InputError("invalid_date_range", field="date_from", field2="date_to", start=start,
                         end=end)  # fmt: skip
    return {"date_from": start, "date_to": end}


def check_documents(documents: object, index: Index) -> list[str] | None:
    """Document ids, each in the library; None (all documents) for an empty choice."""
    if documents is None or documents == "" or documents == []:
        return None
    documents = [documents] if isinstance(documents, str) else documents
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise InputError("invalid_documents", value=_shown(documents))
    known = {row["doc_id"] for row in index.titles()}
    for doc_id in documents:
        if doc_id not in known:
            raise InputError("unknown_document", value=_shown(doc_id))
    return documents


def check_in_force(in_force: object) -> bool:
    if in_force is None:
        return False
    if not isinstance(in_force, bool):
        raise InputError("invalid_in_force", value=_shown(in_force))
    return in_force


def check_history(history: object) -> list[tuple[str, str]]:
    """[[question, answer], ...] → pairs; answers of earlier turns resolve follow-ups."""
    if history is None or history == "":
        return []
    pairs = history if isinstance(history, list) and len(history) <= MAX_HISTORY_TURNS else None
    for pair in pairs or ():
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                and all(isinstance(x, str) and len(x) <= 20_000 for x in pair)):  # fmt: skip
            pairs = None
            break
    if pairs is None:
        raise InputError("invalid_history")
    return [(question, reply) for question, reply in pairs]


# Colours are variables with a dark override (Gradio puts .dark on <body> when the browser
# prefers a dark scheme); each pair keeps a contrast ratio of at least 4.5 (WCAG AA).
CSS = """
:root { --qa-accent: #b4232a; --qa-mark-bg: #ffe58f; --qa-mark-fg: #1f2328;
        --qa-notice-bg: #fff7e6; --qa-notice-fg: #3d2c00; }
.dark { --qa-accent: #ffa198; --qa-mark-bg: #5c4700; --qa-mark-fg: #fff4cc;
        --qa-notice-bg: #3a2b00; --qa-notice-fg: #ffe9a8; }
/* width: a centred container would otherwise grow to its widest table on phones */
.gradio-container { max-width: 1280px !important; width: 100%; margin: 0 auto; }
#qa-top { align-items: flex-start; }
#qa-header h1 { margin-bottom: 0; font-size: 1.6rem; }
#qa-header p { margin-top: 4px; color: var(--body-text-color-subdued); }
#qa-lang { flex: 0 0 auto !important; min-width: 220px !important; }
.qa-searched { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.qa-notice { font-size: 0.85em; background: var(--qa-notice-bg); color: var(--qa-notice-fg);
             border-left: 3px solid #f0a020; padding: 4px 8px; margin-bottom: 6px; }
.qa-answer { line-height: 1.8; }
.qa-answer, .qa-card { overflow-wrap: anywhere; }
a.qa-cite { text-decoration: none; font-weight: 600; font-size: 0.8em; vertical-align: super;
            color: var(--qa-accent); padding: 0 1px; }
.qa-sources h3 { margin: 0 0 8px 0; font-size: 1rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
           margin-bottom: 10px; background: var(--background-fill-secondary); }
.qa-card:target { outline: 2px solid var(--qa-accent); }
.qa-card-head { font-weight: 600; }
.qa-n, .qa-repealed { color: var(--qa-accent); }
.qa-source { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 6px 0; }
.qa-text { line-height: 1.75; font-size: 0.95em; }
.qa-text mark, .qa-answer mark { background: var(--qa-mark-bg); color: var(--qa-mark-fg);
                                 padding: 0 1px; border-radius: 2px; }
.qa-also { font-size: 0.8em; margin-top: 6px; color: var(--body-text-color-subdued); }
.qa-level { font-size: 0.8em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.qa-repealed { font-size: 0.85em; font-weight: 600; margin-bottom: 4px; }
.qa-meta { display: flex; justify-content: space-between; gap: 12px; font-size: 0.8em;
           color: var(--body-text-color-subdued); padding: 0 4px; }
.qa-warn { color: var(--qa-accent); font-weight: 600; }
#qa-count { white-space: nowrap; font-variant-numeric: tabular-nums; }
.qa-back { display: none; }
#qa-table { max-width: 100%; overflow-x: auto; }
/* Phones: the cards of the latest answer come right after the chat and its question box, and
   a sticky link leads back to the answer after a jump to a card. */
@media (max-width: 640px) {
  #qa-main { flex-direction: column; flex-wrap: nowrap; }
  #qa-left { display: contents; }
  #qa-chat { order: 1; height: 62vh !important; }
  #qa-ask { order: 2; } #qa-meta { order: 3; } #qa-right { order: 4; } #qa-examples { order: 5; }
  #qa-right { min-width: 0 !important; width: 100%; }
  .qa-back { display: block; position: sticky; bottom: 8px; width: fit-content; margin: 0 0 0 auto;
             padding: 6px 12px; border-radius: 16px; background: var(--background-fill-primary);
             border: 1px solid var(--border-color-primary); color: var(--qa-accent);
             text-decoration: none; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2); }
}
"""

# The page script: the live character count under the question box, and a question without a
# word (empty, only punctuation) is not sent: Enter shows the hint instead.
HEAD = """<script>
(() => {
  const wordlike = /[\\p{L}\\p{N}_]/u;
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!box.closest || !box.closest("#qa-input") || wordlike.test(box.value)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const hint = document.querySelector("#qa-meta .qa-hint");
    if (hint) { hint.textContent = hint.dataset.empty; hint.classList.add("qa-warn"); }
  }, true);
  setInterval(() => {
    const box = document.querySelector("#qa-input textarea");
    const count = document.querySelector("#qa-count");
    const text = box && `${[...box.value].length} / %(max)d`;
    if (count && text && count.textContent !== text) count.textContent = text;
  }, 250);
})();
</script>""" % {"max": MAX_QUESTION_CHARS}  # noqa: UP031 (the script's braces)


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


def _text_html(text: str) -> str:
    return render.escape(text)


def answer_bubble(result: Answer, turn: int, lang: str) -> str:
    """The chat bubble of an answer; a follow-up's 检索：… line cut to SEARCHED_MAX characters."""
    query = result.query.strip()
    if query != result.question.strip() and len(query) > SEARCHED_MAX:
        result = replace(result, query=query[: SEARCHED_MAX - 1] + "…")
    return render.answer_html(result, turn, lang)


def sources_panel(result: Answer, turn: int, lang: str, k: int) -> str:
    """The source cards, their heading saying how many passages were searched, and (on phones,
    where the cards sit below the chat) a link back to the answer."""
    cards = render.sources_html(result, turn, lang)
    if not cards:
        return ""
    searched = UI[lang]["searched_k"].format(k=k)
    cards = re.sub(r"<h3>(.*?)</h3>", lambda m: f"<h3>{m.group(1)}{searched}</h3>", cards, count=1)
    return f'{cards}<a class="qa-back" href="#qa-chat">{UI[lang]["back"]}</a>'


def box_note(lang: str, warning: str = "") -> str:
    """The line under the question box: how to send, the length limit and a live count (the
    page script keeps #qa-count current and shows data-empty when it blocks an empty question)."""
    words = UI[lang]
    kind = "qa-hint qa-warn" if warning else "qa-hint"
    empty = render.html.escape(words["empty"], quote=True)
    return (
        f'<div class="qa-meta"><span class="{kind}" data-empty="{empty}">'
        f"{_text_html(warning or words['hint'])}</span>"
        f'<span id="qa-count">0 / {MAX_QUESTION_CHARS}</span></div>'
    )


def chat_events(index: Index, message, chat, turns, docs, date_from, date_to, k, lang):
    """One chat turn as (chat, turns, sources, input box, box note) updates, streamed.

    A question without a word (empty, only punctuation) adds nothing to the chat: the note under
    the box asks for one, in the UI language, as do the messages for bad options.
    """
    import gradio as gr

    lang = lang if lang in UI else "zh"
    chat, turns = list(chat or []), list(turns or [])
    text = message if isinstance(message, str) else ""
    if not has_substance(text):
        yield chat, turns, gr.skip(), message, box_note(lang, UI[lang]["empty"])
        return
    chat.append({"role": "user", "content": _text_html(text[:MAX_QUESTION_CHARS])})
    chat.append({"role": "assistant", "content": "…"})
    turn = len(turns)
    yield chat, turns, "", "", box_note(lang)
    shown = ""
    try:
        question, k = check_question(text), check_k(k)
        filters = check_dates(date_from, date_to)
        docs = check_documents(docs, index)
        for event in stream_answer(question, k, index=index, history=turns, docs=docs,
                                   **filters):  # fmt: skip
            if isinstance(event, ResolvedQuery):
                continue
            if isinstance(event, str):
                shown += event
                chat[-1] = {"role": "assistant", "content": _text_html(shown)}
                yield chat, turns, "", "", gr.skip()
            elif isinstance(event, Answer):
                chat[-1] = {"role": "assistant", "content": answer_bubble(event, turn, lang)}
                turns.append((text, event.text))
                yield chat, turns, sources_panel(event, turn, lang, k), "", gr.skip()
    except InputError as error:  # kept in the box, to be corrected and sent again
        chat[-1] = {"role": "assistant", "content": _text_html(error.text(lang))}
        yield chat, turns, "", text, gr.skip()
    except Exception:
        log.exception("answer failed")
        chat[-1] = {"role": "assistant", "content": _text_html(UI[lang]["error"])}
        yield chat, turns, "", "", gr.skip()


def ask_api(index: Index, question, k, documents, date_from, date_to, in_force, history) -> dict:
    """The `ask` endpoint's result: ask_payload, or {"error": {"type": ..., "message": ...}}."""
    try:
        question, k = check_question(question), check_k(k)
        if not has_substance(question):
            raise InputError("empty_question")
        result = answer(question, k, index=index, history=check_history(history),
                        docs=check_documents(documents, index), in_force=check_in_force(in_force),
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


def create_app(index: Index):
    import gradio as gr

    library = Library(index)
    # Without a token, upload and delete serve only the page: no API name, no docs entry.
    writes_public = bool(_admin_token())
    zh = UI["zh"]

    def respond(message, chat, turns, docs, date_from, date_to, k, lang):
        yield from chat_events(index, message, chat, turns, docs, date_from, date_to, k, lang)

    def ask(question: str, k: float = 5, documents: list | None = None, date_from: str = "",
            date_to: str = "", in_force: bool = False, history: list | None = None) -> dict:  # fmt: skip
        """Answer a question: JSON with the answer, found, the searched query and citations
        (doc_id, title, provision, locator, date, page, paragraph, paragraph_end, quotes).

        question: at most 2000 characters; k: passages to search, an integer from 1 to 20;
        documents: doc ids to search in; date_from/date_to: 2024-01-01, 2024/01/01, 2024年1月1日
        or 2024; in_force: only documents in force; history: earlier [question, answer] pairs.
        Bad input gives {"error": {"type": "invalid_k" | "question_too_long" | ..., "message"}}.
        """
        return ask_api(index, question, k, documents, date_from, date_to, in_force, history)

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

    def page_state():
        """On page load (in Chinese, the page's first language): the library, its size in the
        header, and examples drawn from it."""
        samples = [[q] for q in library.examples() or EXAMPLES]
        return (*library_state(), header_markdown(library, "zh"), gr.update(samples=samples))

    def switch_language(lang):
        """Every label, placeholder, button and heading of the page in the chosen language."""
        w = UI[lang if lang in UI else "zh"]
        date = {"info": w["date_info"]}
        return (header_markdown(library, lang), gr.update(label=w["chat_tab"]),
                gr.update(label=w["library_tab"]), gr.update(label=w["chat"]),
                gr.update(placeholder=w["placeholder"]), gr.update(value=w["clear"]),
                box_note(lang), gr.update(label=w["examples"]), gr.update(label=w["options"]),
                gr.update(label=w["docs"]), gr.update(label=w["from"], **date),
                gr.update(label=w["to"], **date), gr.update(label=w["k"], info=w["k_info"]),
                gr.update(value={"headers": w["headers"], "data": library.rows()}),
                gr.update(label=w["token"]), gr.update(label=w["files"]),
                gr.update(value=w["add"]), gr.update(label=w["victim"]),
                gr.update(value=w["remove"]))  # fmt: skip

    with gr.Blocks(title="政策问答 · Policy QA") as app:
        with gr.Row(elem_id="qa-top"):
            header = gr.Markdown(header_markdown(None, "zh"), elem_id="qa-header")
            lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh",
                            label="语言 · Language", elem_id="qa-lang", scale=0,
                            min_width=220)  # fmt: skip
        turns = gr.State([])
        with gr.Tab(zh["chat_tab"], elem_id="qa-chat-tab") as chat_tab:
            with gr.Row(elem_id="qa-main"):
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
                k = gr.Slider(1, 10, value=5, step=1, label=zh["k"], info=zh["k_info"],
                              elem_id="qa-k")  # fmt: skip
        with gr.Tab(zh["library_tab"], elem_id="qa-library-tab") as library_tab:
            table = gr.Dataframe(value=[], interactive=False, wrap=True, headers=zh["headers"],
                                 elem_id="qa-table")  # fmt: skip
            token = gr.Textbox(label=zh["token"], type="password", visible=writes_public)
            with gr.Row():
                files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES),
                                label=zh["files"], elem_id="qa-upload")  # fmt: skip
                with gr.Column():
                    add = gr.Button(zh["add"], variant="primary", elem_id="qa-add")
                    victim = gr.Dropdown(choices=[], label=zh["victim"])
                    remove = gr.Button(zh["remove"], variant="stop")
            status = gr.Markdown(elem_id="qa-status")
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
        app.load(page_state, None, [table, victim, docs, header, examples], **hidden)
        lang.change(switch_language, [lang],
                    [header, chat_tab, library_tab, chatbot, box, clear, note, examples, options,
                     docs, date_from, date_to, k, table, token, files, add, victim, remove],
                    **hidden)  # fmt: skip
        examples.click(lambda sample: sample[0], examples, box, **hidden)
        box.submit(respond, inputs, [chatbot, turns, sources, box, note], concurrency_id="answer",
                   **hidden)  # fmt: skip
        clear.click(lambda: ([], [], ""), None, [chatbot, turns, sources], **hidden)
        # Two at once, so that the second is told BUSY by Library at once instead of queueing.
        add.click(upload, [files, token], [status, table, victim, docs, files],
                  concurrency_limit=2, concurrency_id="write", **writes("upload"))  # fmt: skip
        remove.click(delete, [victim, token], [status, table, victim, docs], concurrency_limit=2,
                     concurrency_id="write", **writes("delete"))  # fmt: skip
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
                        show_error=False, max_file_size=MAX_UPLOAD_BYTES, css=CSS, head=HEAD,
                        footer_links=["api"])  # fmt: skip
    # Gradio accepts an input file only from its upload folder once the app "has launched",
    # which launch() sets and mount_gradio_app doesn't: unset, a request naming any path on
    # disk (/etc/passwd, /dev/zero) has the file hashed and copied on the event loop.
    blocks.has_launched = True
    docview.mount(server, index)  # /doc/<id>: the document viewer, behind the same checks
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
