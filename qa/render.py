"""HTML for the chat: answers with clickable [n] markers, source cards with the quote marked.

Every piece of article text and user input goes through `escape`, which also neutralises
Markdown syntax, so `<script>`, `<img onerror=…>` and `[x](javascript:…)` display as text.
Only the markup built here (links to cards, <mark>, the card layout) is live.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

from qa.quotes import Answer
from qa.search import Passage

# Characters that Markdown would turn into markup, written as entities so they stay text.
# One pass: HTML's specials and the characters Markdown would turn into markup, as entities
# (two passes would escape the first pass's entities: It's → It&#x27;s on the page).
_INERT = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": "<br>"}
    | {c: f"&#{ord(c)};" for c in "[]()*_`#!|~\\{}+-=.:"}
)

LABELS = {
    "zh": {"searched": "检索", "sources": "来源", "related": "相关阅读", "paragraph": "第{}段",
           "page": "第{}页", "also": "亦见于", "none": "资料中没有找到相关内容。",
           "related_note": "以下段落最接近，但不足以回答这个问题：", "open": "打开原文",
           "effective": "{}起施行", "not_in_force": "{status}：本文件不是现行规定",
           "replaced_by": "，已由 {} 取代"},
    "en": {"searched": "Searched", "sources": "Sources", "related": "Related reading",
           "paragraph": "paragraph {}", "page": "page {}", "also": "Also published by",
           "none": "No relevant content was found in the documents.",
           "related_note": "These paragraphs come closest, but don't answer the question:",
           "open": "open the source", "effective": "in force from {}",
           "not_in_force": "{status}: this document no longer governs",
           "replaced_by": "; replaced by {}"},
}  # fmt: skip


def escape(text: str) -> str:
    """Text → inert HTML: no tags, no entities, no Markdown. Newlines become <br>."""
    return text.translate(_INERT)


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


def doc_url(doc_id: str, paragraph: int | None = None) -> str:
    """The document viewer's link (qa.docview): /doc/<quoted id>#p<paragraph>."""
    path = quote(doc_id, safe="/")
    if any(part in (".", "..") for part in doc_id.split("/")):
        path = quote(doc_id, safe="")  # browsers would resolve the dots and lose the id
    return f"/doc/{path}" + (f"#p{int(paragraph)}" if paragraph else "")


def _citation_line(passage: Passage, lang: str) -> str:
    words = LABELS[lang]
    parts = [f"《{escape(passage.title)}》{escape(passage.provision)}"]
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


def _status_line(passage: Passage, lang: str) -> str:
    """效力层级 and, when the document no longer governs, a warning the reader can't miss."""
    auth = passage.authority
    if auth is None:
        return ""
    words = LABELS[lang]
    parts = [escape(auth.level)] if auth.level else []
    if auth.effective:
        parts.append(escape(words["effective"].format(auth.effective)))
    line = f'<div class="qa-level">{" · ".join(parts)}</div>' if parts else ""
    if not auth.in_force:
        later = "、".join(auth.superseded_by)
        warning = escape(
            words["not_in_force"].format(status=auth.status)
            + (words["replaced_by"].format(later) if later else "")
        )
        line += f'<div class="qa-repealed">{warning}</div>'
    return line


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
    status = _status_line(passage, lang)
    anchor = f' id="{card_id(turn, n)}"' if n is not None else ""
    # The title opens the whole document at this paragraph, in a new tab (qa.docview).
    link = html.escape(doc_url(passage.doc_id, passage.paragraph), quote=True)
    return (
        f'<div class="qa-card"{anchor}><div class="qa-card-head">{number}'
        f'<a class="qa-title" href="{link}" target="_blank" rel="noopener">'
        f"{_citation_line(passage, lang)}</a></div>"
        f"{f'<div class=qa-source>{source}</div>' if source else ''}{status}"
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
        "citations": [{"n": c.n, **_passage_json(c.passage), "quotes": list(c.quotes)}
                      for c in answer.citations],
        "related": [_passage_json(p) for p in answer.related],
    }  # fmt: skip


def _passage_json(passage: Passage) -> dict:
    auth = passage.authority
    return {
        "doc_id": passage.doc_id, "title": passage.title, "date": passage.date,
        "provision": passage.provision,
        "locator": passage.locator.path() if passage.locator else "",
        "citation": passage.citation, "paragraph": passage.paragraph,
        "paragraph_end": max(passage.paragraph, passage.paragraph_end), "page": passage.page,
        "level": auth.level if auth else None, "status": auth.status if auth else None,
        "effective": auth.effective if auth else None, "text": passage.text,
        "source": passage.source, "url": doc_url(passage.doc_id, passage.paragraph),
    }  # fmt: skip
