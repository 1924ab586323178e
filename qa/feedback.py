"""Thumbs up or down on an answer, with an optional comment, kept as JSONL beside the index.

For the chat app (qa/webapp.py):

    add_feedback(index_dir, answer, +1 or -1, comment="", user=None) -> the stored record
        `answer` is the qa.answer.Answer just shown, or a saved turn (qa.conversations);
        `user` is the same key as for conversations (or None). Bad input is a ValueError that
        names the field and the limit.

From a terminal: `python -m qa feedback --export FILE|- [--format jsonl|csv] [--index-dir DIR]`.

Each record is one line of `<index>/feedback.jsonl`: time, user, rating, comment, question,
answer, and per citation n, passage_id, doc_id, provision, paragraph. A line is written with one
write() on a file opened with O_APPEND, under a lock, so concurrent answers never interleave.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from qa.conversations import check_user_key

if TYPE_CHECKING:
    from qa.quotes import Answer

FILE_NAME = "feedback.jsonl"
MAX_COMMENT = 1000
FORMATS = ("jsonl", "csv")
CSV_FIELDS = ("time", "user", "rating", "comment", "question", "answer", "passage_ids",
              "doc_ids", "provisions")  # fmt: skip
_append_lock = threading.Lock()
log = logging.getLogger(__name__)


def feedback_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / FILE_NAME


def _citations(answer: Answer | Mapping) -> list[dict]:
    if isinstance(answer, Mapping):  # a saved turn (qa.conversations.turn_record)
        return [{"n": c["n"], "passage_id": c.get("passage_id"), "doc_id": c["doc_id"],
                 "provision": c.get("provision") or "", "paragraph": c.get("paragraph")}
                for c in answer.get("citations", ())]  # fmt: skip
    return [{"n": c.n, "passage_id": c.passage.passage_id, "doc_id": c.passage.doc_id,
             "provision": c.passage.provision, "paragraph": c.passage.paragraph}
            for c in answer.citations]  # fmt: skip


def make_record(answer: Answer | Mapping, rating: object, comment: object = "",
                user: str | None = None) -> dict:  # fmt: skip
    """The record `add_feedback` stores, after checking what came from the client."""
    if isinstance(rating, bool) or rating not in (1, -1):
        raise ValueError(f"rating must be +1 (helpful) or -1 (not helpful), not {rating!r}")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ValueError(f"comment must be text, not {type(comment).__name__}")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise ValueError(
            f"comment is {len(comment)} characters, over the {MAX_COMMENT}-character limit: "
            "shorten it"
        )
    if user is not None:
        check_user_key(user)
    question, text = (
        (answer["question"], answer["text"]) if isinstance(answer, Mapping)
        else (answer.question, answer.text)
    )  # fmt: skip
    return {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "user": user, "rating": int(rating), "comment": comment, "question": question,
        "answer": text, "citations": _citations(answer),
    }  # fmt: skip


def add_feedback(index_dir: str | Path, answer: Answer | Mapping, rating: object,
                 comment: object = "", user: str | None = None) -> dict:  # fmt: skip
    """Append one rating to `<index_dir>/feedback.jsonl`; returns the record written."""
    record = make_record(answer, rating, comment, user)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    path = feedback_path(index_dir)
    with _append_lock:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a line torn by a crash must not swallow this record
            written = os.write(fd, line)
            while written < len(line):  # a short write (disk nearly full): finish the line
                written += os.write(fd, line[written:])
        finally:
            os.close(fd)
    return record


def read_feedback(index_dir: str | Path) -> tuple[list[dict], int]:
    """The records, oldest first, and how many lines could not be read (e.g. a torn last line)."""
    records, bad = [], 0
    with open(feedback_path(index_dir), encoding="utf-8", errors="replace") as file:
        for line in file:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
    return records, bad


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: no =, +, - or @ formula at the start of text."""
    if isinstance(value, str):
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return "" if value is None else str(value)  # numbers such as the rating -1 stay numbers


def _csv_row(record: dict) -> list[str]:
    cites = record.get("citations") or []
    lists = {
        "passage_ids": json.dumps([c.get("passage_id") for c in cites]),
        "doc_ids": json.dumps([c.get("doc_id") for c in cites], ensure_ascii=False),
        "provisions": json.dumps([c.get("provision") for c in cites], ensure_ascii=False),
    }
    return [_cell(lists[f] if f in lists else record.get(f)) for f in CSV_FIELDS]


def export(destination: str | Path | TextIO, format: str = "jsonl", *,
           index_dir: str | Path) -> int:  # fmt: skip
    """Write the feedback of `index_dir` to a file, "-" (stdout) or a text stream.

    Returns the number of records. FileNotFoundError when there is no feedback yet.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    records, bad = read_feedback(index_dir)
    if bad:
        log.warning("%s: skipped %d unreadable lines", feedback_path(index_dir), bad)
    if destination == "-":
        _write(sys.stdout, records, format)
    elif hasattr(destination, "write"):
        _write(destination, records, format)
    else:
        with open(destination, "w", encoding="utf-8", newline="") as file:
            _write(file, records, format)
    return len(records)


def _write(out: TextIO, records: list[dict], format: str) -> None:
    if format == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    writer.writerows(_csv_row(record) for record in records)
