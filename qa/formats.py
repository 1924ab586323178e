"""PDF and Word files → blocks, the same shape qa.documents gives for text formats.

PDF paragraphs are rebuilt from positioned lines: a paragraph starts at an indented line
or after a line that stops short of the right margin, so it flows across line and page
breaks. Running headers, footers and page numbers are recognised by position and
repetition and dropped. Each block remembers the page it starts on, for citations.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from qa.errors import IngestError
from qa.text import has_substance, is_cjk

_PAGE_NUMBER = re.compile(
    r"^[-—–\s]*(第\s*)?\d{1,4}\s*(页)?(\s*[/／]\s*\d{1,4})?\s*(页)?[-—–\s]*$|^page\s+\d+(\s+of\s+\d+)?$",
    re.I,
)
_NUMBERED_HEADING = re.compile(
    r"^(第[一二三四五六七八九十百零〇\d]+[章节编部分]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)"
)
_SENTENCE_END = tuple("。！？；：!?;:")
_MARGIN_SHARE = 0.1  # top and bottom tenth of a page: where running headers and footers live


@dataclass
class _Line:
    page: int
    text: str
    x0: float
    x1: float
    top: float
    size: float


def parse_pdf(path: Path):
    import pdfplumber

    from qa.documents import Block, Parsed

    try:
        pdf = pdfplumber.open(path)
    except Exception as error:  # pdfminer raises many types for damaged files
        raise IngestError(
            path, f"is not a readable PDF ({type(error).__name__})", "check the file"
        ) from None
    with pdf:
        lines, heights = [], []
        for number, page in enumerate(pdf.pages, start=1):
            heights.append(float(page.height))
            for line in page.extract_text_lines(strip=True, return_chars=True):
                text = line["text"].strip()
                if text:
                    size = median(float(c["size"]) for c in line["chars"]) if line["chars"] else 0.0
                    lines.append(_Line(number, text, line["x0"], line["x1"], line["top"], size))
        metadata_title = str(pdf.metadata.get("Title") or "").strip()
    if not lines:
        raise IngestError(
            path, "has no text layer (a scanned PDF?); OCR is not supported",
            "convert it to text with an OCR tool first",
        )  # fmt: skip
    body = _drop_furniture(lines, heights)
    if not body:
        raise IngestError(path, "no paragraphs with text", "check that the PDF holds text")
    body_size = median(line.size for line in body)
    left = Counter(round(line.x0) for line in body).most_common(1)[0][0]
    right = max(line.x1 for line in body)
    blocks: list[Block] = []
    current: list[_Line] = []

    def flush() -> None:
        if current:
            blocks.append(Block(_join(line.text for line in current), False, current[0].page))
            current.clear()

    for line in body:
        larger = line.size > body_size + 1.0
        numbered = bool(_NUMBERED_HEADING.match(line.text)) and not line.text.endswith(
            _SENTENCE_END
        )
        if larger or (numbered and len(line.text) <= 40):
            flush()
            blocks.append(Block(line.text, True, line.page))
            continue
        indented = line.x0 > left + 0.8 * line.size
        previous_short = bool(current) and current[-1].x1 < right - 1.5 * current[-1].size
        if indented or previous_short:
            flush()
        current.append(line)
    flush()
    title = metadata_title if metadata_title.lower() not in {"", "untitled", "unknown"} else None
    first_page = [line for line in body if line.page == body[0].page]
    biggest = max(first_page, key=lambda line: line.size)
    if title is None and biggest.size > body_size + 1.0:
        title = biggest.text
    return Parsed(blocks=blocks, title=title)


def _drop_furniture(lines: list[_Line], heights: list[float]) -> list[_Line]:
    """Drop page numbers, and lines in the page margins that repeat on several pages."""

    def in_margin(line: _Line) -> bool:
        height = heights[line.page - 1]
        return line.top < height * _MARGIN_SHARE or line.top > height * (1 - _MARGIN_SHARE)

    def shape(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    repeats = Counter(shape(line.text) for line in lines if in_margin(line))
    pages = len(heights)
    return [
        line
        for line in lines
        if not (_PAGE_NUMBER.match(line.text) and in_margin(line))
        and not (in_margin(line) and pages > 1 and repeats[shape(line.text)] >= 2)
    ]


def _join(parts) -> str:
    joined = ""
    for part in parts:
        if joined and not (is_cjk(joined[-1]) or is_cjk(part[0]) or not joined[-1].isalnum()):
            joined += " "
        joined += part
    return joined


def parse_docx(path: Path):
    """Paragraphs in order, Title/Heading styles as headings, each table row as a paragraph."""
    from docx import Document as load_docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    from qa.documents import Block, Parsed

    try:
        document = load_docx(str(path))
    except Exception as error:  # python-docx raises zipfile/KeyError/ValueError for damaged files
        raise IngestError(
            path, f"is not a readable .docx file ({type(error).__name__})", "re-save it from Word"
        ) from None
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip() or None
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = paragraph.text.strip(" \t\u3000\xa0")
            if not has_substance(text):
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            heading = style == "Title" or style.startswith("Heading") or _all_bold(paragraph, text)
            if style == "Title" and title is None:
                title = text
            blocks.append(Block(text, heading))
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = list(
                    dict.fromkeys(cell.text.strip() for cell in row.cells)
                )  # merged cells repeat
                text = " | ".join(cell for cell in cells if cell)
                if has_substance(text):
                    blocks.append(Block(text))
    if title is None:
        title = next((block.text for block in blocks if block.is_heading), None)
    return Parsed(blocks=blocks, title=title)


def _all_bold(paragraph, text: str) -> bool:
    runs = [run for run in paragraph.runs if run.text.strip()]
    return (
        bool(runs)
        and all(run.bold for run in runs)
        and len(text) <= 60
        and not text.endswith(_SENTENCE_END)
    )
