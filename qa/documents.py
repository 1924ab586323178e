"""Corpus files → `Document`s: decoding, front matter, HTML/Markdown/text bodies, cleaning.

A document is a list of blocks (paragraphs and headings) in reading order. The cleaned
document text is the blocks joined by newlines; passage offsets point into it.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from qa.errors import IngestError
from qa.text import has_substance, is_cjk, normalize

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
# Housekeeping files that describe a corpus rather than belong to it.
IGNORED_NAMES = re.compile(r"^(readme|sources|license|licence|changelog)(\.|$)", re.IGNORECASE)
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_BLOCKS = 20_000

BLOCK_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th", "dt", "dd",
    "div", "section", "article", "main", "body", "html", "table", "tbody", "thead", "tr", "ul",
    "ol", "dl", "figure", "figcaption", "caption", "address", "center",
}  # fmt: skip
DROP_TAGS = {
    "script", "style", "noscript", "template", "iframe", "nav", "footer", "aside", "form",
    "button", "select", "svg", "canvas", "head", "object", "embed", "title", "meta", "link",
}  # fmt: skip
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BOLD_HINT = re.compile(r"bold|strong|font-weight:\s*(bold|[6-9]00)", re.IGNORECASE)

# Page furniture: short lines that carry no policy content (editor credits, app slogans, share bars).
_FURNITURE = re.compile(
    r"^(责任编辑|编辑|校对|审核|审校|监制|来源|原标题|作者|记者|通讯员)\s*[:：]"
    r"|(尽在|下载|打开).{0,16}(app|客户端)"
    r"|二维码|扫一扫|^分享到|^(打印|关闭|关闭窗口|返回顶部|收藏|点赞|评论)$"
    r"|^【?(免责声明|版权声明)",
    re.IGNORECASE,
)
_FURNITURE_MAX_CHARS = 40
_HEADING_MAX_CHARS = 60
_SENTENCE_END = tuple("。！？；：!?;:")
_NUMBERED_HEADING = re.compile(
    r"^(第[一二三四五六七八九十百零〇\d]+[章节编部分]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)"
)


@dataclass(frozen=True)
class Block:
    text: str
    is_heading: bool = False
    page: int | None = None  # PDFs: the page the block starts on


@dataclass
class Document:
    doc_id: str
    path: str
    title: str
    blocks: list[Block]
    date: str | None = None
    source: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    file_sha256: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The cleaned document text; passage offsets index into it."""
        return "\n".join(block.text for block in self.blocks)

    @property
    def text_sha256(self) -> str:
        """Hash of the normalised text: equal for copies that differ only in bytes or markup."""
        return hashlib.sha256(normalize(self.text).encode()).hexdigest()


def iter_corpus_files(root: Path) -> Iterator[Path]:
    """Files under `root` that the ingester reads, in a stable order."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if (
            path.is_file()
            and path.suffix.lower() in SUFFIXES
            and not IGNORED_NAMES.match(path.name)
        ):
            yield path


def read_document(
    path: Path, root: Path | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Document:
    """Parse one corpus file. Raises IngestError naming the file when it cannot be used."""
    size = path.stat().st_size
    if size > max_bytes:
        raise IngestError(
            path, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit",
            "split it into smaller files",
        )  # fmt: skip
    raw = path.read_bytes()
    front, parsed = _parse(path, raw)
    blocks = [block for block in parsed.blocks if not _is_furniture(block.text)]
    if len(blocks) > MAX_BLOCKS:
        raise IngestError(
            path, f"{len(blocks)} paragraphs, over the {MAX_BLOCKS} limit", "split the file"
        )
    if not any(has_substance(block.text) and not block.is_heading for block in blocks):
        raise IngestError(path, "no paragraphs with text", "check that the file is a text document")
    relative = path.relative_to(root).as_posix() if root else path.name
    doc_id = _text_field(front, "id") or _text_field(front, "url") or relative
    url = _text_field(front, "url") or _text_field(front, "link")
    return Document(
        doc_id=doc_id,
        path=str(path.resolve()),
        title=_text_field(front, "title") or parsed.title or path.stem,
        blocks=blocks,
        date=parse_date(front.get("date")) or parsed.date,
        source=url or _text_field(front, "source") or _text_field(front, "author")
        or _text_field(front, "publisher") or _text_field(front, "issuer"),
        issuer=_text_field(front, "issuer"),
        doc_number=_text_field(front, "doc_number"),
        file_sha256=hashlib.sha256(raw).hexdigest(),
        extra=front,  # level, status, effective, supersedes… (qa.authority)
    )  # fmt: skip


def _parse(path: Path, raw: bytes) -> tuple[dict, Parsed]:
    """(front matter, parsed body) by file type; .txt may hold HTML, as the seed article does."""
    suffix = path.suffix.lower()
    if suffix in {".pdf", ".docx"}:
        from qa import formats

        return {}, formats.parse_pdf(path) if suffix == ".pdf" else formats.parse_docx(path)
    front, body = split_front_matter(decode(raw, path), path)
    if suffix in {".html", ".htm"} or (suffix == ".txt" and _looks_like_html(body)):
        return front, parse_html(body)
    if suffix in {".md", ".markdown"}:
        return front, parse_markdown(body)
    return front, parse_plain_text(body)


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK; anything else is refused."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):  # fmt: skip
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise _undecodable(path, encoding, error) from None
    if b"\x00" in raw:
        raise IngestError(
            path, "looks like a binary file (it has NUL bytes)", "save it as UTF-8 text"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise _undecodable(path, "UTF-8 or GB18030", utf8_error) from None
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    if controls > len(text) / 100:
        raise IngestError(path, "looks like a binary file", "save it as UTF-8 text")
    return text


def _undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> IngestError:
    return IngestError(
        path, f"cannot be decoded as {encoding} (bad byte at offset {error.start})",
        "re-save it as UTF-8",
    )  # fmt: skip


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    """YAML front matter between `---` lines, parsed with safe_load; returns (fields, body)."""
    match = re.match(r"\A\s*---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", text, re.S)
    if not match:
        return {}, text
    try:
        fields = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise IngestError(
            path, f"front matter is not valid YAML{line}", "fix it or remove the --- block"
        ) from None
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise IngestError(
            path, f"front matter must be a mapping of `key: value` lines, not a {type(fields).__name__}",
            "fix the --- block at the top of the file",
        )  # fmt: skip
    return fields, text[match.end() :]


def _text_field(front: dict, key: str) -> str | None:
    value = front.get(key)
    if value is None or isinstance(value, (dict, list)):
        return None
    value = str(value).strip()
    return value or None


def parse_date(value: object) -> str | None:
    """ISO date from YAML dates, ISO strings, RFC 2822 (`Thu, 25 Nov 2021 05:36:57 GMT`) or 2021年11月25日."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    match = re.search(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})", value)
    try:
        if match:
            return dt.date(*(int(group) for group in match.groups())).isoformat()
        return email.utils.parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


@dataclass
class Parsed:
    blocks: list[Block]
    title: str | None = None
    date: str | None = None


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(p|div|html|body|br|h[1-6]|article|span)\b[^>]*>", text, re.I))


def parse_html(html: str) -> Parsed:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _html_title(soup)
    date = _html_date(soup)
    blocks: list[Block] = []
    _walk(soup, blocks)
    return Parsed(blocks=blocks, title=title, date=date)


def _html_title(soup) -> str | None:
    h1 = soup.find("h1")
    if h1 and h1.get_text(strip=True):
        return _clean_inline(h1.get_text(" "))
    if soup.title and soup.title.get_text(strip=True):
        # Drop the site-name suffix that page titles carry ("标题_新浪财经", "标题 - 人民网").
        return re.split(r"\s+[-|–—]\s+|_", soup.title.get_text().strip())[0].strip() or None
    return None


def _html_date(soup) -> str | None:
    for attrs in ({"property": "article:published_time"}, {"name": "pubdate"},
                  {"name": "publishdate"}, {"name": "PubDate"}, {"name": "date"}):  # fmt: skip
        meta = soup.find("meta", attrs=attrs)
        if meta and parse_date(meta.get("content")):
            return parse_date(meta.get("content"))
    time = soup.find("time")
    return parse_date(time.get("datetime") or time.get_text()) if time else None


def _walk(node, blocks: list[Block]) -> None:
    """Emit a block per innermost block element; inline runs between block children are blocks too."""
    from bs4.element import NavigableString, Tag

    run: list[tuple[str, bool]] = []
    for child in node.children:
        if isinstance(child, Tag):
            name = child.name.lower()
            if name in DROP_TAGS or _is_hidden(child):
                continue
            if name == "br":
                run.append(("\x00", False))
            elif name in BLOCK_TAGS or _has_block(child):
                _emit(run, blocks, heading=False)
                run = []
                if _has_block(child):
                    _walk(child, blocks)
                else:
                    pieces = list(_inline_pieces(child, bold=_is_bold(child)))
                    _emit(pieces, blocks, heading=name in HEADING_TAGS)
            else:
                run.extend(_inline_pieces(child, bold=_is_bold(child)))
        elif type(child) is NavigableString:  # skips comments, CDATA, doctype
            run.append((str(child), False))
    _emit(run, blocks, heading=False)


def _has_block(tag) -> bool:
    return tag.find(lambda t: t.name in BLOCK_TAGS) is not None


def _is_hidden(tag) -> bool:
    style = (tag.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or tag.has_attr("hidden")


def _is_bold(tag) -> bool:
    if tag.name in {"b", "strong"}:
        return True
    hints = " ".join(str(tag.get(attr, "")) for attr in ("style", "cms-style", "class"))
    return bool(_BOLD_HINT.search(hints))


def _inline_pieces(tag, bold: bool) -> Iterator[tuple[str, bool]]:
    from bs4.element import NavigableString, Tag

    for child in tag.children:
        if isinstance(child, Tag):
            name = child.name.lower()
            if name == "br":
                yield "\x00", bold  # an explicit line break, unlike source newlines
            elif name not in DROP_TAGS and name != "img" and not _is_hidden(child):
                yield from _inline_pieces(child, bold or _is_bold(child))
        elif type(child) is NavigableString:
            yield str(child), bold


def _emit(pieces: list[tuple[str, bool]], blocks: list[Block], heading: bool) -> None:
    text = _clean_inline("".join(piece for piece, _ in pieces))
    if not has_substance(text):
        return
    if not heading:
        bold_text = "".join(piece for piece, bold in pieces if bold)
        plain_text = "".join(piece for piece, bold in pieces if not bold)
        all_bold = has_substance(bold_text) and not has_substance(plain_text)
        heading = _could_be_heading(text) and (all_bold or bool(_NUMBERED_HEADING.match(text)))
    blocks.append(Block(text, heading))


def _clean_inline(text: str) -> str:
    """Collapse HTML whitespace, keep explicit line breaks, strip full-width indentation."""
    # A source line break between two CJK characters is layout, not a word gap.
    text = re.sub(r"(?<=[^\x00-\x7f])[ \t\r]*\r?\n[ \t\r]*(?=[^\x00-\x7f])", "", text)
    lines = []
    for line in text.split("\x00"):
        line = re.sub(r"[ \t\n\r\f\v]+", " ", line)
        line = line.strip(" \u3000\xa0")
        if line:
            lines.append(line)
    return "\n".join(lines)


def _could_be_heading(text: str) -> bool:
    return len(text) <= _HEADING_MAX_CHARS and "\n" not in text and not text.endswith(_SENTENCE_END)


def _is_furniture(text: str) -> bool:
    return len(text) <= _FURNITURE_MAX_CHARS and bool(_FURNITURE.search(text))


def parse_markdown(markdown: str) -> Parsed:
    """CommonMark via markdown-it, so emphasis follows the spec (`**省（区、市）**年` stays literal)."""
    from markdown_it import MarkdownIt

    html = (
        MarkdownIt("commonmark", {"html": True, "breaks": False}).enable("table").render(markdown)
    )
    return parse_html(html)


def parse_plain_text(text: str) -> Parsed:
    """Blank lines separate paragraphs; a block whose lines each end a sentence is one paragraph per line."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line.strip(" \t\u3000\xa0") for line in chunk.split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            continue
        separate = all(line.endswith(_SENTENCE_END) or _NUMBERED_HEADING.match(line)
                       for line in lines[:-1])  # fmt: skip
        paragraphs = lines if separate else [_join_wrapped(lines)]
        for paragraph in paragraphs:
            if has_substance(paragraph):
                heading = _could_be_heading(paragraph) and bool(_NUMBERED_HEADING.match(paragraph))
                blocks.append(Block(paragraph, heading))
    title = None
    if blocks and _could_be_heading(blocks[0].text) and len(blocks) > 1:
        title = blocks[0].text
        blocks[0] = Block(title, True)
    return Parsed(blocks=blocks, title=title)


def _join_wrapped(lines: list[str]) -> str:
    joined = lines[0]
    for line in lines[1:]:
        gap = "" if is_cjk(joined[-1]) or is_cjk(line[0]) else " "
        joined += gap + line
    return joined
