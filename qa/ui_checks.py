"""Checks on what the chat and the `ask` API receive: questions, k, dates, documents, history.

Each failure is an InputError the user can correct, explained in the UI language.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import unicodedata

from qa.search import Index
from qa.ui_text import FIELDS, MAX_HISTORY_TURNS, MAX_K, MAX_QUESTION_CHARS, MESSAGES


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


def gradio_hints(fn):
    """Give a handler's `request` / `data` parameters their Gradio types as objects.

    Under `from __future__ import annotations` the hints are strings naming a `gr` that is only
    imported inside functions, so Gradio can't resolve them: it would fill gr.Request and
    gr.LikeData with None and count them as inputs.
    """
    import gradio as gr

    types = {"request": gr.Request, "data": gr.LikeData}
    fn.__annotations__ = {name: types[name] for name in fn.__annotations__ if name in types}
    return fn
