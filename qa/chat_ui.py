"""The chat's own parts: one streamed turn (chat_events), its bubble (with a plain-text copy of
the answer for the copy button), the source cards of this and earlier turns, the note under the
question box, and the CSS and page script they need. The saved conversations around the chat are
in qa.conversation_ui.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace

from qa import render
from qa.answer import Answer, stream_answer
from qa.conversations import plain_text, to_answer, turn_record
from qa.followup import ResolvedQuery
from qa.search import Index
from qa.text import has_substance
from qa.ui_checks import InputError, check_dates, check_documents, check_k, check_question
from qa.ui_text import CONVERSATION, MAX_QUESTION_CHARS, UI

log = logging.getLogger(__name__)

SEARCHED_MAX = 80  # the echoed 检索：… line of a follow-up is cut here

CHAT_CSS = """
#qa-convs .wrap { flex-direction: column; align-items: stretch; max-height: 360px;
                  overflow-y: auto; flex-wrap: nowrap; }
#qa-convs label { width: 100%; }
.qa-earlier { margin-top: 8px; }
.qa-earlier summary { cursor: pointer; font-weight: 600; }
.qa-turn-sources h4 { margin: 10px 0 6px 0; font-size: 0.95rem; }
@media (max-width: 640px) { #qa-side { order: 6; min-width: 0 !important; width: 100%; } }
"""

# Gradio's copy button copies a message's raw value, which for an answer is HTML. The answer's
# plain text (qa.conversations.plain_text) rides along in a data-plain attribute (the sanitizer
# drops it from the page, the copied value keeps it); this swaps it in, for the async clipboard
# and for the execCommand fallback on plain http. A [n] whose card is folded opens the fold.
CHAT_HEAD = """<script>
(() => {
  let chatClick = 0;
  const plain = (text) => {
    if (typeof text !== "string" || Date.now() - chatClick > 3000) return text;
    const doc = new DOMParser().parseFromString(text, "text/html");
    const bubble = doc.querySelector("[data-plain]");
    if (bubble) return bubble.getAttribute("data-plain");
    doc.querySelectorAll("br").forEach((br) => br.replaceWith("\\n"));
    return /[<&]/.test(text) ? doc.body.textContent : text;
  };
  document.addEventListener("click", (event) => {
    const el = event.target;
    if (!el.closest || !el.closest("#qa-chat")) return;
    chatClick = Date.now();
    const cite = el.closest("a.qa-cite");
    const card = cite && document.getElementById((cite.getAttribute("href") || "").slice(1));
    const fold = card && card.closest("details");
    if (fold) fold.open = true;
  }, true);
  document.addEventListener("copy", (event) => {
    const box = event.target;  // Gradio's fallback copies from a textarea it puts on <body>
    if (!box || box.tagName !== "TEXTAREA" || box.closest(".gradio-container")) return;
    const text = plain(box.value);
    if (text === box.value) return;
    event.clipboardData.setData("text/plain", text);
    event.preventDefault();
  }, true);
  const clip = navigator.clipboard;
  if (clip && clip.writeText) {
    const write = clip.writeText.bind(clip);
    clip.writeText = (text) => write(plain(text));
  }
})();
</script>"""


def text_html(text: str) -> str:
    return render.escape(text)


def answer_bubble(result: Answer, turn: int, lang: str) -> str:
    """The chat bubble of an answer; a follow-up's 检索：… line cut to SEARCHED_MAX characters.

    The wrapper carries the answer as plain text with its sources, for the copy button.
    """
    copy = html.escape(plain_text(turn_record(result)), quote=True).replace("\n", "&#10;")
    query = result.query.strip()
    if query != result.question.strip() and len(query) > SEARCHED_MAX:
        result = replace(result, query=query[: SEARCHED_MAX - 1] + "…")
    body = render.answer_html(result, turn, lang)
    return f'<div class="qa-bubble" data-plain="{copy}">{body}</div>'


def earlier_sources(entries: list, lang: str) -> str:
    """The cards of earlier answers, newest first, folded: their [n] links keep a target."""
    blocks = []
    for turn in range(len(entries) - 1, -1, -1):
        cards = render.sources_html(to_answer(entries[turn][2]), turn, lang)
        if cards:
            cards = re.sub(r"<h3>.*?</h3>", "", cards, count=1).replace(
                'class="qa-sources', 'class="qa-turn-sources', 1
            )
            head = f"<h4>{turn + 1}. {text_html(entries[turn][0])}</h4>"
            blocks.append(cards.replace(">", f">{head}", 1))
    if not blocks:
        return ""
    summary = CONVERSATION[lang]["earlier"].format(n=len(blocks))
    return f'<details class="qa-earlier"><summary>{summary}</summary>{"".join(blocks)}</details>'


def sources_panel(result: Answer, turn: int, lang: str, k: int | None, earlier: list = ()) -> str:
    """The source cards, their heading saying how many passages were searched, the folded cards
    of earlier answers (`earlier`: their turn entries), and (on phones, where the cards sit below
    the chat) a link back to the answer."""
    cards = render.sources_html(result, turn, lang)
    if cards and k is not None:
        searched = UI[lang]["searched_k"].format(k=k)
        cards = re.sub(r"<h3>(.*?)</h3>", lambda m: f"<h3>{m.group(1)}{searched}</h3>", cards,
                       count=1)  # fmt: skip
    cards += earlier_sources(list(earlier), lang)
    return f'{cards}<a class="qa-back" href="#qa-chat">{UI[lang]["back"]}</a>' if cards else ""


def box_note(lang: str, warning: str = "") -> str:
    """The line under the question box: how to send, the length limit and a live count (the
    page script keeps #qa-count current and shows data-empty when it blocks an empty question)."""
    words = UI[lang]
    kind = "qa-hint qa-warn" if warning else "qa-hint"
    empty = html.escape(words["empty"], quote=True)
    return (
        f'<div class="qa-meta"><span class="{kind}" data-empty="{empty}">'
        f"{text_html(warning or words['hint'])}</span>"
        f'<span id="qa-count">0 / {MAX_QUESTION_CHARS}</span></div>'
    )


def chat_events(
    index: Index, message, chat, turns, docs, date_from, date_to, k, lang, undated: bool = True
):
    """One chat turn as (chat, turns, sources, input box, box note) updates, streamed.

    `turns` holds one entry per answer: (question, answer text, saved turn record, index of the
    answer in the chat); the first two are the follow-up context. A question without a word adds
    nothing to the chat: the note under the box asks for one, in the UI language, as do the
    messages for bad options.
    """
    import gradio as gr

    lang = lang if lang in UI else "zh"
    chat, turns = list(chat or []), list(turns or [])
    text = message if isinstance(message, str) else ""
    if not has_substance(text):
        yield chat, turns, gr.skip(), message, box_note(lang, UI[lang]["empty"])
        return
    chat.append({"role": "user", "content": text_html(text[:MAX_QUESTION_CHARS])})
    chat.append({"role": "assistant", "content": "…"})
    turn = len(turns)
    yield chat, turns, "", "", box_note(lang)
    shown = ""
    try:
        question, k = check_question(text), check_k(k)
        filters = check_dates(date_from, date_to)
        docs = check_documents(docs, index)
        history = [entry[:2] for entry in turns]
        for event in stream_answer(question, k, index=index, history=history, docs=docs,
                                   include_undated=undated is not False, **filters):  # fmt: skip
            if isinstance(event, ResolvedQuery):
                continue
            if isinstance(event, str):
                shown += event
                chat[-1] = {"role": "assistant", "content": text_html(shown)}
                yield chat, turns, "", "", gr.skip()
            elif isinstance(event, Answer):
                chat[-1] = {"role": "assistant", "content": answer_bubble(event, turn, lang)}
                earlier = list(turns)
                turns.append((text, event.text, turn_record(event), len(chat) - 1))
                yield chat, turns, sources_panel(event, turn, lang, k, earlier), "", gr.skip()
    except InputError as error:  # kept in the box, to be corrected and sent again
        chat[-1] = {"role": "assistant", "content": text_html(error.text(lang))}
        yield chat, turns, "", text, gr.skip()
    except Exception:
        log.exception("answer failed")
        chat[-1] = {"role": "assistant", "content": text_html(UI[lang]["error"])}
        yield chat, turns, "", "", gr.skip()
