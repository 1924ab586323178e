"""Corpus files → `Document`s: decoding, front matter, HTML/Markdown/text bodies, cleaning.

A document is a list of blocks (paragraphs and headings) in reading order. The cleaned
document text is the blocks joined by newlines; passage offsets point into it.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# `X as X` marks a re-export: callers import these from qa.documents.
from qa.blocks import MAX_BLOCK_CHARS as MAX_BLOCK_CHARS
from qa.blocks import MAX_BLOCKS as MAX_BLOCKS
from qa.blocks import MAX_DOCUMENT_CHARS as MAX_DOCUMENT_CHARS
from qa.blocks import MAX_FILE_BYTES as MAX_FILE_BYTES
from qa.blocks import NUMBERED_HEADING, SENTENCE_END, NotADate, Parsed, could_be_heading
from qa.blocks import Block as Block
from qa.blocks import parse_date as parse_date
from qa.errors import IngestError
from qa.html_blocks import looks_like_html, parse_html
from qa.text import has_substance, is_cjk, normalize

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
# Housekeeping files that describe a corpus rather than belong to it.
IGNORED_NAMES = re.compile(r"^(readme|sources|license|licence|changelog)(\.|$)", re.IGNORECASE)

# Page furniture: short lines that carry no policy content (editor credits, app slogans, share bars).
_FURNITURE = re.compile(
    r"^(责任编辑|编辑|校对|审核|审校|监制|来源|原标题|作者|记者|通讯员)\s*[:：]"
    r"|(尽在|下载|打开).{0,16}(app|客户端)"
    r"|二维码|扫一扫|^分享到|^(打印|关闭|关闭窗口|返回顶部|收藏|点赞|评论)$"
    r"|^【?(免责声明|版权声明)",
    re.IGNORECASE,
)
_FURNITURE_MAX_CHARS = 40


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
    """Files under `root` that the ingester reads, in a stable order.

    Left out with a logged warning: a symbolic link whose target lies outside `root` (a link in a
    corpus folder never pulls other files into the index; links within it are read), and
    anything that is not a regular file (devices, FIFOs, broken links).
    """
    real_root = root.resolve()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in SUFFIXES or IGNORED_NAMES.match(path.name) or path.is_dir():
            continue
        if not path.is_file():
            log.warning("skipped %s: not a regular file (a device, FIFO or broken link)", path)
        elif not _is_within(path.resolve(), real_root):
            log.warning(
                "skipped %s: it links to %s, outside the corpus folder %s; copy the file "
                "into the folder instead of linking to it", path, path.resolve(), root,
            )  # fmt: skip
        else:
            yield path


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def read_document(
    path: Path, root: Path | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Document:
    """Parse one corpus file. Raises IngestError naming the file when it cannot be used."""
    if root is not None and not _is_within(path.resolve(), Path(root).resolve()):
        raise IngestError(
            path, f"is outside the corpus folder {root} (through a symbolic link?)",
            "copy the file into the folder instead of linking to it",
        )  # fmt: skip
    raw = read_bounded(path, max_bytes)
    front, parsed = _parse(path, raw)
    front = {**front, **read_sidecar(path)}  # the Library's metadata edits win
    blocks = [block for block in parsed.blocks if not _is_furniture(block.text)]
    check_text_limits(path, blocks)
    if not any(has_substance(block.text) and not block.is_heading for block in blocks):
        raise IngestError(path, "no paragraphs with text", "check that the file is a text document")
    relative = path.relative_to(root).as_posix() if root else path.name
    doc_id = _text_field(front, "id") or _text_field(front, "url") or relative
    url = _text_field(front, "url") or _text_field(front, "link")
    date = parse_date(front.get("date"))
    if date is None and front.get("date") not in (None, ""):
        log.warning("%s: front matter date %r is not a real date; indexed undated", path,
                    str(front["date"])[:40])  # fmt: skip
    return Document(
        doc_id=doc_id,
        path=str(path.resolve()),
        title=_text_field(front, "title") or parsed.title or path.stem,
        blocks=blocks,
        date=date or parsed.date,
        source=url or _text_field(front, "source") or _text_field(front, "author")
        or _text_field(front, "publisher") or _text_field(front, "issuer"),
        issuer=_text_field(front, "issuer"),
        doc_number=_text_field(front, "doc_number"),
        file_sha256=with_sidecar(path, hashlib.sha256(raw).hexdigest()),
        extra=front,  # level, status, effective, supersedes… (qa.authority)
    )  # fmt: skip


def sidecar_path(path: Path) -> Path:
    """Where the Library keeps metadata for a file that has no front matter (.pdf, .docx)."""
    return path.with_name(f"{path.name}.meta.yaml")


def read_sidecar(path: Path) -> dict:
    """The fields of `<name>.meta.yaml` next to `path`, or {} when there is none."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}
    text = decode(read_bounded(sidecar, 64 * 1024), sidecar)
    fields, _ = split_front_matter(f"---\n{text}\n---\n", sidecar)
    return fields


def with_sidecar(path: Path, digest: str | None) -> str | None:
    """A file's hash, with its sidecar's bytes folded in: editing the metadata is a change."""
    sidecar = sidecar_path(path)
    if digest is None or not sidecar.is_file():
        return digest
    return hashlib.sha256(digest.encode() + sidecar.read_bytes()).hexdigest()


def read_bounded(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, read once and never more than that.

    The size is checked on the open file (a path swapped between two calls can't slip through),
    devices and FIFOs are refused before any read (O_NONBLOCK: opening a FIFO doesn't wait for a
    writer), and the read stops at `max_bytes + 1` in case the file grows while it is read.
    """
    too_big = "split it into smaller files"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise IngestError(path, f"cannot be opened ({error.strerror})", "check the file") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(
                path,
                "is not a regular file (a device, FIFO or socket)",
                "remove it from the folder",
            )
        limit = f"{max_bytes >> 20} MB" if max_bytes >= 1 << 20 else f"{max_bytes:,}-byte"
        if info.st_size > max_bytes:
            raise IngestError(
                path, f"file is {info.st_size / (1 << 20):.1f} MB, over the {limit} limit "
                "(MAX_FILE_BYTES)", too_big,
            )  # fmt: skip
        raw = file.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise IngestError(
            path, f"file grew past the {limit} limit (MAX_FILE_BYTES) while being read", too_big
        )
    return raw


def check_text_limits(path: Path, blocks: list[Block]) -> None:
    """Refuse documents whose paragraphs would become an unbounded number of passages."""
    if len(blocks) > MAX_BLOCKS:
        raise IngestError(
            path, f"{len(blocks)} paragraphs, over the {MAX_BLOCKS} limit (MAX_BLOCKS)",
            "split the file",
        )  # fmt: skip
    total = 0
    for number, block in enumerate(blocks, start=1):
        if len(block.text) > MAX_BLOCK_CHARS:
            raise IngestError(
                path, f"paragraph {number} has {len(block.text):,} characters, over the "
                f"{MAX_BLOCK_CHARS:,}-character limit for one paragraph (MAX_BLOCK_CHARS)",
                "split it into paragraphs or split the file",
            )  # fmt: skip
        total += len(block.text)
    if total > MAX_DOCUMENT_CHARS:
        raise IngestError(
            path, f"{total:,} characters of text, over the {MAX_DOCUMENT_CHARS:,}-character "
            "limit for one document (MAX_DOCUMENT_CHARS)", "split the file",
        )  # fmt: skip


def _parse(path: Path, raw: bytes) -> tuple[dict, Parsed]:
    """(front matter, parsed body) by file type; .txt may hold HTML, as the seed article does."""
    suffix = path.suffix.lower()
    if suffix in {".pdf", ".docx"}:
        from qa import formats

        parse = formats.parse_pdf if suffix == ".pdf" else formats.parse_docx
        return {}, parse(path, raw)
    front, body = split_front_matter(decode(raw, path), path)
    if suffix in {".html", ".htm"} or (suffix == ".txt" and looks_like_html(body)):
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
        fields = yaml.load(match.group(1), Loader=_FrontMatterLoader)
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


class _FrontMatterLoader(yaml.SafeLoader):
    """safe_load, except that a timestamp that can't exist (2021-02-30, a +99:00 offset) stays
    text (NotADate) instead of raising ValueError, which parse_date never reads as a date: the
    file is indexed undated."""

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return NotADate(self.construct_scalar(node))


_FrontMatterLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _FrontMatterLoader.construct_yaml_timestamp
)


def _text_field(front: dict, key: str) -> str | None:
    value = front.get(key)
    if value is None or isinstance(value, (dict, list)):
        return None
    value = str(value).strip()
    return value or None


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
        separate = all(line.endswith(SENTENCE_END) or NUMBERED_HEADING.match(line)
                       for line in lines[:-1])  # fmt: skip
        paragraphs = lines if separate else [_join_wrapped(lines)]
        for paragraph in paragraphs:
            if has_substance(paragraph):
                heading = could_be_heading(paragraph) and bool(NUMBERED_HEADING.match(paragraph))
                blocks.append(Block(paragraph, heading))
    title = None
    if blocks and could_be_heading(blocks[0].text) and len(blocks) > 1:
        title = blocks[0].text
        blocks[0] = Block(title, True)
    return Parsed(blocks=blocks, title=title)


def _join_wrapped(lines: list[str]) -> str:
    joined = lines[0]
    for line in lines[1:]:
        gap = "" if is_cjk(joined[-1]) or is_cjk(line[0]) else " "
        joined += gap + line
    return joined
