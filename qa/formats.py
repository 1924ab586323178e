"""PDF and Word files → blocks, the same shape qa.documents gives for text formats.

PDF paragraphs are rebuilt from positioned lines: a paragraph starts at an indented line
or after a line that stops short of the right margin, so it flows across line and page
breaks. Running headers, footers and page numbers are recognised by position and
repetition and dropped. Each block remembers the page it starts on, for citations.

Both readers bound their work while reading (limits below and in qa.pdf_budget):
a damaged or hostile file becomes an IngestError naming it, never an unnamed exception, a hang
or gigabytes of memory.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from qa.blocks import MAX_DOCUMENT_CHARS, NUMBERED_HEADING, SENTENCE_END, Block, Parsed
from qa.errors import IngestError
from qa.pdf_budget import (
    MAX_PDF_DECODED_BYTES,
    PDF_FIX,
    check_page_count,
    page_stream_bytes,
)
from qa.text import has_substance, is_cjk

_PAGE_NUMBER = re.compile(
    r"^[-—–\s]*(第\s*)?\d{1,4}\s*(页)?(\s*[/／]\s*\d{1,4})?\s*(页)?[-—–\s]*$|^page\s+\d+(\s+of\s+\d+)?$",
    re.I,
)
_MARGIN_SHARE = 0.1  # top and bottom tenth of a page: where running headers and footers live

MAX_DOCX_UNPACKED_BYTES = 200 * 1024 * 1024  # all parts: python-docx loads every one
MAX_DOCX_XML_BYTES = 50 * 1024 * 1024  # one XML part (word/document.xml …), unpacked
MAX_DOCX_ELEMENTS = 2_000_000  # XML elements in all parts; lxml keeps ~150 bytes per element
MAX_DOCX_PARAGRAPHS = 200_000  # paragraphs and table rows, empty ones included
_DOCX_FIX = "re-save it from Word"


@dataclass
class _Line:
    page: int
    text: str
    x0: float
    x1: float
    top: float
    size: float


def parse_pdf(path: Path, data: bytes) -> Parsed:
    """Blocks of a PDF's text layer. `data` is the file's bytes, read once by the caller."""
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as error:  # pdfminer raises many types for damaged files
        raise IngestError(
            path, f"is not a readable PDF ({type(error).__name__})", "check the file"
        ) from None
    number = 0
    try:
        with pdf:
            check_page_count(path, pdf)
            lines, heights, seen, decoded, chars = [], [], set(), 0, 0
            for number, page in enumerate(pdf.pages, start=1):
                decoded += page_stream_bytes(path, page.page_obj, seen)
                if decoded > MAX_PDF_DECODED_BYTES:
                    raise IngestError(
                        path, f"its streams decode to more than {MAX_PDF_DECODED_BYTES >> 20} MB "
                        f"by page {number} (MAX_PDF_DECODED_BYTES; a compression bomb?)", PDF_FIX,
                    )  # fmt: skip
                heights.append(float(page.height))
                for line in page.extract_text_lines(strip=True, return_chars=True):
                    text = line["text"].strip()
                    if not text:
                        continue
                    chars += len(text)
                    if chars > MAX_DOCUMENT_CHARS:
                        raise IngestError(
                            path, f"more than {MAX_DOCUMENT_CHARS:,} characters of text by page "
                            f"{number}, over the limit for one document (MAX_DOCUMENT_CHARS)",
                            "split the file",
                        )  # fmt: skip
                    chars_ = line["chars"]
                    size = median(float(c["size"]) for c in chars_) if chars_ else 0.0
                    lines.append(_Line(number, text, line["x0"], line["x1"], line["top"], size))
            metadata_title = str(pdf.metadata.get("Title") or "").strip()
    except IngestError:
        raise
    except Exception as error:  # damaged page trees, boxes, fonts, streams; deep nesting
        where = f" on page {number}" if number else ""
        raise IngestError(
            path, f"is a damaged PDF ({type(error).__name__}{where})", PDF_FIX
        ) from None
    if not lines:
        raise IngestError(
            path, "has no text layer (a scanned PDF?); OCR is not supported",
            "convert it to text with an OCR tool first",
        )  # fmt: skip
    try:
        return _layout(path, lines, heights, metadata_title)
    except (ValueError, OverflowError) as error:  # round() of a NaN or infinite coordinate
        raise IngestError(path, f"is a damaged PDF ({type(error).__name__})", PDF_FIX) from None


def _layout(path: Path, lines: list[_Line], heights: list[float], metadata_title: str) -> Parsed:
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
        numbered = bool(NUMBERED_HEADING.match(line.text)) and not line.text.endswith(SENTENCE_END)
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


def parse_docx(path: Path, data: bytes) -> Parsed:
    """Paragraphs in order, Title/Heading styles as headings, each table row as a paragraph."""
    from docx import Document as load_docx
    from docx.text.paragraph import Paragraph

    _check_docx_package(path, data)
    try:
        document = load_docx(io.BytesIO(data))
    except Exception as error:  # python-docx raises zipfile/KeyError/ValueError for damaged files
        raise IngestError(
            path, f"is not a readable .docx file ({type(error).__name__})", _DOCX_FIX
        ) from None
    blocks: list[Block] = []
    try:
        title = (document.core_properties.title or "").strip() or None
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(child, document)
                text = paragraph.text.strip(" \t\u3000\xa0")
                if not has_substance(text):
                    continue
                style = (paragraph.style.name if paragraph.style is not None else "") or ""
                heading = (
                    style == "Title" or style.startswith("Heading") or _all_bold(paragraph, text)
                )
                if style == "Title" and title is None:
                    title = text
                blocks.append(Block(text, heading))
            elif tag == "tbl":
                blocks.extend(Block(text) for text in _table_rows(child, document))
    except Exception as error:  # odd attribute values python-docx can't parse
        raise IngestError(
            path, f"is a damaged .docx file ({type(error).__name__})", _DOCX_FIX
        ) from None
    if title is None:
        title = next((block.text for block in blocks if block.is_heading), None)
    return Parsed(blocks=blocks, title=title)


def _check_docx_package(path: Path, data: bytes) -> None:
    """Refuse zip bombs before python-docx unpacks and parses every part.

    Sizes come from the zip directory (zipfile never unpacks a member past its stated size);
    elements and paragraphs are counted while streaming through each XML part, which stops at
    the first limit passed, so 4 million empty paragraphs cost a fraction of a second.
    """
    from lxml import etree

    w_p, w_tr = (f"{{{_W}}}p", f"{{{_W}}}tr")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise IngestError(
            path, f"is not a readable .docx file ({type(error).__name__})", _DOCX_FIX
        ) from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise IngestError(
            path, f"unpacks to {unpacked / 1e6:,.0f} MB, over the "
            f"{MAX_DOCX_UNPACKED_BYTES >> 20} MB limit (MAX_DOCX_UNPACKED_BYTES)", "split the file",
        )  # fmt: skip
    elements = paragraphs = 0
    for member in members:
        try:
            with archive.open(member) as stream:  # XML by content, whatever the part's name
                if not stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                    continue  # images and other binary parts: counted in `unpacked` only
            if member.file_size > MAX_DOCX_XML_BYTES:
                raise IngestError(
                    path, f"{member.filename} unpacks to {member.file_size / 1e6:,.0f} MB, over "
                    f"the {MAX_DOCX_XML_BYTES >> 20} MB limit (MAX_DOCX_XML_BYTES)",
                    "split the file",
                )  # fmt: skip
            with archive.open(member) as stream:
                for _, element in etree.iterparse(
                    stream, events=("end",), resolve_entities=False, no_network=True,
                    load_dtd=False, huge_tree=False,
                ):  # fmt: skip
                    elements += 1
                    paragraphs += element.tag in (w_p, w_tr)
                    if elements > MAX_DOCX_ELEMENTS or paragraphs > MAX_DOCX_PARAGRAPHS:
                        raise IngestError(
                            path, f"more than {MAX_DOCX_PARAGRAPHS:,} paragraphs or "
                            f"{MAX_DOCX_ELEMENTS:,} XML elements, over the limit "
                            "(MAX_DOCX_PARAGRAPHS, MAX_DOCX_ELEMENTS)", "split the file",
                        )  # fmt: skip
                    element.clear()  # keep memory flat: only the count matters here
        except (etree.XMLSyntaxError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError,
                NotImplementedError) as error:  # fmt: skip
            raise IngestError(
                path, f"is not a readable .docx file ({type(error).__name__} in "
                f"{member.filename})", _DOCX_FIX,
            ) from None  # fmt: skip


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _table_rows(table, document):
    """Each row's cell texts, joined with " | ", read from the XML.

    python-docx's `row.cells` is avoided: it allocates an entry per spanned grid column (2**31 for
    a hostile gridSpan) and walks each vertically merged cell up its chain (quadratic). Here a
    merged cell's text is remembered per grid column as the rows go by.
    """
    from docx.text.paragraph import Paragraph

    w = f"{{{_W}}}"
    merged: dict[int, str] = {}  # grid column → text of the vertical merge that starts there
    for row in table.iterchildren(f"{w}tr"):
        column, texts = 0, []
        for cell in row.iterchildren(f"{w}tc"):
            text = "\n".join(Paragraph(p, document).text for p in cell.iterchildren(f"{w}p"))
            vmerge = cell.find(f"{w}tcPr/{w}vMerge")
            if vmerge is None:
                merged.pop(column, None)
            elif vmerge.get(f"{w}val") == "restart":
                merged[column] = text
            else:  # continue (the default): the cell shows the text of the cell it merges into
                text = merged.get(column, text)
            texts.append(text.strip())
            column += _grid_span(cell.find(f"{w}tcPr/{w}gridSpan"), w)
        cells = list(dict.fromkeys(texts))  # a merge across rows repeats its text
        text = " | ".join(cell for cell in cells if cell)
        if has_substance(text):
            yield text


def _grid_span(element, w: str) -> int:
    """A cell's width in grid columns; only used as an offset, so a huge value costs nothing."""
    value = element.get(f"{w}val", "1") if element is not None else "1"
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _all_bold(paragraph, text: str) -> bool:
    runs = [run for run in paragraph.runs if run.text.strip()]
    return (
        bool(runs)
        and all(_is_bold(run) for run in runs)
        and len(text) <= 60
        and not text.endswith(SENTENCE_END)
    )


def _is_bold(run) -> bool:
    from docx.exceptions import InvalidXmlError

    try:
        return bool(run.bold)
    except (InvalidXmlError, ValueError):  # w:b w:val="maybe": not a value Word writes
        return False
