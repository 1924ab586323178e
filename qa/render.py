"""HTML for the chat: answers with clickable [n] markers, source cards with the quote marked.

Every piece of article text and user input goes through `escape`, which also neutralises
Markdown syntax, so `<script>`, `<img onerror=…>` and `[x](javascript:…)` display as text.
Only the markup built here (links to cards, <mark>, the card layout) is live.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from qa.answer import Answer
from qa.search import Passage

# Characters that Markdown would turn into markup, written as entities so they stay text.
_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "[]()*_`#!|~\\{}+-=.:"})

LABELS = {
    "zh": {"searched": "检索", "sources": "来源", "related": "相关阅读", "paragraph": "第{}段",
           "page": "第{}页", "also": "亦见于", "none": "资料中没有找到相关内容。",
           "related_note": "以下段落最接近，但不足以回答这个问题：", "open": "打开原文"},
    "en": {"searched": "Searched", "sources": "Sources", "related": "Related reading",
           "paragraph": "paragraph {}", "page": "page {}", "also": "Also published by",
           "none": "No relevant content was found in the documents.",
           "related_note": "These paragraphs come closest, but don't answer the question:",
           "open": "open the source"},
}  # fmt: skip


def escape(text: str) -> str:
    """Text → inert HTML: no tags, no entities, no Markdown. Newlines become <br>."""
    return html.escape(text, quote=True).translate(_MARKDOWN).replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None: a javascript: or data: source never becomes a link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def card_id(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


def _citation_line(passage: Passage, lang: str) -> str:
    words = LABELS[lang]
    parts = [f"《{escape(passage.title)}》"]
    if passage.date:
        parts.append(escape(passage.date))
    parts.append(escape(words["paragraph"].format(passage.paragraphs)))
    if passage.page:
        parts.append(escape(words["page"].format(passage.page)))
    return " · ".join(parts)


def answer_html(answer: Answer, turn: int, lang: str = "zh") -> str:
    """The chat bubble: the resolved query of a follow-up, the answer, and any notice."""
    words = LABELS[lang]
    by_n = {c.n: c for c in answer.citations}
    pieces = []
    if answer.query.strip() != answer.question.strip():
        pieces.append(f'<div class="qa-searched">{words["searched"]}：{escape(answer.query)}</div>')
    if answer.notice:
        pieces.append(f'<div class="qa-notice">{escape(answer.notice)}</div>')
    body = []
    for part in re.split(r"(\[\d+\])", answer.text):
        marker = re.fullmatch(r"\[(\d+)\]", part)
        if marker and int(marker.group(1)) in by_n:
            n = int(marker.group(1))
            title = html.escape(by_n[n].passage.citation, quote=True)
            body.append(f'<a class="qa-cite" href="#{card_id(turn, n)}" title="{title}">[{n}]</a>')
        else:
            body.append(escape(part))
    pieces.append(f'<div class="qa-answer">{"".join(body)}</div>')
    return "".join(pieces)


def _marked(passage: Passage, spans: tuple[tuple[int, int], ...]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(escape(passage.text[last:start]))
        out.append(f"<mark>{escape(passage.text[start:end])}</mark>")
        last = end
    out.append(escape(passage.text[last:]))
    return "".join(out)


def _card(passage: Passage, n: int | None, turn: int, spans, lang: str) -> str:
    words = LABELS[lang]
    url = safe_url(passage.source)
    origin = [escape(passage.issuer)] if passage.issuer else []
    if url:
        link = html.escape(url, quote=True)
        label = escape(urlsplit(url).hostname or words["open"])
        origin.append(
            f'<a href="{link}" target="_blank" rel="noopener noreferrer nofollow">{label}</a>'
        )
    elif passage.source and passage.source != passage.issuer:
        origin.append(escape(passage.source))
    source = " · ".join(origin)
    also = ""
    if passage.also_published_by:
        names = "、".join(escape(r.source or r.title) for r in passage.also_published_by)
        also = f'<div class="qa-also">{words["also"]}：{names}</div>'
    number = f'<span class="qa-n">[{n}]</span> ' if n is not None else ""
    anchor = f' id="{card_id(turn, n)}"' if n is not None else ""
    return (
        f'<div class="qa-card"{anchor}><div class="qa-card-head">{number}'
        f'<span class="qa-title">{_citation_line(passage, lang)}</span></div>'
        f"{f'<div class=qa-source>{source}</div>' if source else ''}"
        f'<div class="qa-text">{_marked(passage, spans)}</div>{also}</div>'
    )


def sources_html(answer: Answer | None, turn: int, lang: str = "zh") -> str:
    """Source cards of an answer, or the related reading when nothing answered."""
    words = LABELS[lang]
    if answer is None:
        return ""
    if answer.citations:
        cards = "".join(_card(c.passage, c.n, turn, c.spans, lang) for c in answer.citations)
        return f'<div class="qa-sources"><h3>{words["sources"]}</h3>{cards}</div>'
    if answer.related:
        cards = "".join(_card(p, None, turn, (), lang) for p in answer.related)
        return (f'<div class="qa-sources qa-related"><h3>{words["related"]}</h3>'
                f'<p>{words["related_note"]}</p>{cards}</div>')  # fmt: skip
    return ""


def ask_payload(answer: Answer) -> dict:
    """The JSON of the `ask` API endpoint."""
    return {
        "answer": answer.text,
        "found": answer.found,
        "query": answer.query,
        "notice": answer.notice,
        "citations": [
            {"n": c.n, "title": c.passage.title, "date": c.passage.date,
             "paragraph": c.passage.paragraph, "text": c.passage.text,
             "source": c.passage.source, "quotes": list(c.quotes)}
            for c in answer.citations
        ],
        "related": [
            {"title": p.title, "date": p.date, "paragraph": p.paragraph, "text": p.text,
             "source": p.source}
            for p in answer.related
        ],
    }  # fmt: skip
