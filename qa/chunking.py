"""Documents → passages: one per paragraph, long paragraphs windowed at sentence ends.

Paragraph numbers count every block of the document, headings included, so that
"paragraph 12" is the twelfth paragraph a reader sees in the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.documents import Document
from qa.structure import Locator, common, locate
from qa.text import sentence_spans

WINDOW_CHARS = 300  # target size of a window cut from a long paragraph
SPLIT_ABOVE_CHARS = 400  # paragraphs up to this size stay whole
MIN_CHARS = 20  # shorter paragraphs (signatures, dates, "第 19 号") join a neighbour
LIST_ITEM_MAX_CHARS = 80  # short enumerated items join their lead-in; longer ones stand alone
_CLAUSE_END = re.compile(r"[，、,：:]")
# "（一）…；", "1. …", "一是…": items of a list whose lead-in ends with a colon.
_LIST_ITEM = re.compile(
    r"^(（[一二三四五六七八九十\d]+）|\([\d一二三四五六七八九十]+\)|\d+[.、．]|[一二三四五六七八九十]+是)"
)
_LEAD_IN_END = ("：", ":")


@dataclass(frozen=True)
class Chunk:
    seq: int  # position among the document's passages
    paragraph: int  # 1-based number of the (first) paragraph
    paragraph_end: int  # last paragraph, when short fragments were joined
    heading: str | None
    text: str
    start: int  # character offsets into Document.text
    end: int
    page: int | None = None  # PDFs: page of the first paragraph
    locator: Locator | None = None  # article/款/项 or outline section (qa.structure)


@dataclass
class _Unit:
    first: int
    last: int
    start: int
    end: int


def chunk_document(document: Document) -> list[Chunk]:
    text = document.text
    units: list[_Unit] = []
    unit_headings: list[str | None] = []
    pending: list[_Unit] = []  # short fragments waiting for a neighbour
    heading: str | None = None
    section_first_unit = 0
    offset = 0

    def flush_pending() -> None:
        if not pending:
            return
        merged = _merge(pending)
        pending.clear()
        if len(units) > section_first_unit:  # join the previous passage of this section
            units[-1] = _merge([units[-1], merged])
        else:
            units.append(merged)
            unit_headings.append(heading)

    for number, block in enumerate(document.blocks, start=1):
        start, end = offset, offset + len(block.text)
        offset = end + 1
        if block.is_heading:
            flush_pending()
            heading = block.text
            section_first_unit = len(units)
            continue
        unit = _Unit(number, number, start, end)
        previous = document.blocks[number - 2] if number > 1 else None
        if (
            units
            and len(units) > section_first_unit
            and units[-1].last == number - 1
            and not pending
            and previous is not None
            and _LIST_ITEM.match(block.text)
            and end - start <= LIST_ITEM_MAX_CHARS
            and end - units[-1].start <= SPLIT_ABOVE_CHARS
            and _continues_list(document, units[-1])
        ):
            # A list item stays with its lead-in ("应当具备下列条件：") so the passage reads whole.
            units[-1] = _merge([units[-1], unit])
            continue
        if end - start < MIN_CHARS:
            pending.append(unit)
            continue
        if pending:
            unit = _merge([*pending, unit])
            pending.clear()
        units.append(unit)
        unit_headings.append(heading)
    flush_pending()

    locators = locate(document.blocks)
    chunks: list[Chunk] = []
    for unit, unit_heading in zip(units, unit_headings):
        locator = common(locators[unit.first - 1 : unit.last])
        for start, end in _windows(text, unit.start, unit.end):
            page = document.blocks[unit.first - 1].page
            chunks.append(Chunk(len(chunks), unit.first, unit.last, unit_heading,
                                text[start:end], start, end, page, locator))  # fmt: skip
    return chunks


def _continues_list(document: Document, unit: _Unit) -> bool:
    """True when the unit is a lead-in ending with a colon, or already holds its list items."""
    lead_in = document.blocks[unit.first - 1].text
    return lead_in.endswith(_LEAD_IN_END) and all(
        _LIST_ITEM.match(document.blocks[i - 1].text) for i in range(unit.first + 1, unit.last + 1)
    )


def _merge(units: list[_Unit]) -> _Unit:
    return _Unit(units[0].first, units[-1].last, units[0].start, units[-1].end)


def _windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] into windows of about WINDOW_CHARS, cutting only at sentence ends."""
    if end - start <= SPLIT_ABOVE_CHARS:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for s, e in sentence_spans(text[start:end]):
        pieces.extend(_split_long_sentence(text, start + s, start + e))
    windows: list[tuple[int, int]] = []
    for s, e in pieces:
        if windows and e - windows[-1][0] <= WINDOW_CHARS:
            windows[-1] = (windows[-1][0], e)
        else:
            windows.append((s, e))
    # A short tail reads better as part of the window before it.
    if len(windows) > 1 and windows[-1][1] - windows[-1][0] < MIN_CHARS * 3:
        tail = windows.pop()
        windows[-1] = (windows[-1][0], tail[1])
    return windows


def _split_long_sentence(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence longer than a window is cut at clause marks, or hard-cut as a last resort."""
    if end - start <= SPLIT_ABOVE_CHARS:
        return [(start, end)]
    pieces = []
    piece_start = start
    for match in _CLAUSE_END.finditer(text, start, end):
        cut = match.end()
        if cut - piece_start >= WINDOW_CHARS:
            pieces.append((piece_start, cut))
            piece_start = cut
    pieces.append((piece_start, end))
    result = []
    for s, e in pieces:
        while e - s > SPLIT_ABOVE_CHARS:
            result.append((s, s + WINDOW_CHARS))
            s += WINDOW_CHARS
        result.append((s, e))
    return result
