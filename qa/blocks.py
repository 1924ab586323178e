"""What every reader of corpus files shares: blocks, their limits, heading hints and dates.

The lowest layer of ingestion: qa.documents (text formats and the file as a whole), qa.html_blocks
(HTML and rendered Markdown) and qa.formats (PDF and Word) all build `Parsed` bodies of `Block`s
from here, and nothing here imports them back.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass

# Limits that bound the work one file can cause; each refusal names its limit.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_BLOCKS = 20_000  # paragraphs and headings in one document
MAX_BLOCK_CHARS = 100_000  # one paragraph: beyond this it is not prose but a dump
MAX_DOCUMENT_CHARS = 2_000_000  # the whole cleaned text, about 1,000 pages

HEADING_MAX_CHARS = 60
SENTENCE_END = tuple("。！？；：!?;:")
NUMBERED_HEADING = re.compile(
    r"^(第[一二三四五六七八九十百零〇\d]+[章节编部分]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)"
)


@dataclass(frozen=True)
class Block:
    text: str
    is_heading: bool = False
    page: int | None = None  # PDFs: the page the block starts on


@dataclass
class Parsed:
    blocks: list[Block]
    title: str | None = None
    date: str | None = None


def could_be_heading(text: str) -> bool:
    """Short, one line and not ending a sentence: a heading if something else hints so too."""
    return len(text) <= HEADING_MAX_CHARS and "\n" not in text and not text.endswith(SENTENCE_END)


class NotADate(str):
    """Front matter text that YAML reads as a timestamp but no calendar has: never a date."""


def parse_date(value: object) -> str | None:
    """ISO date from YAML dates, ISO strings, RFC 2822 (`Thu, 25 Nov 2021 05:36:57 GMT`) or 2021年11月25日."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or isinstance(value, NotADate) or not value.strip():
        return None
    value = value.strip()
    match = re.search(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})", value)
    try:
        if match:
            return dt.date(*(int(group) for group in match.groups())).isoformat()
        return email.utils.parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None
