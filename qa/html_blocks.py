"""HTML → blocks: one block per innermost block element, page furniture and hidden parts dropped.

Used for .html/.htm files, HTML in .txt files and rendered Markdown. The walk is iterative and
every pattern scans linearly, so pages nested thousands of levels deep or holding long runs of
unclosed tags or spaces cost time in proportion to their size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from qa.blocks import NUMBERED_HEADING, Block, Parsed, could_be_heading, parse_date
from qa.text import has_substance

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

# `[^<>]*` stops at the next `<`, so a run of unclosed `<p <p <p` is scanned once, not once per tag.
_HTML_TAG = re.compile(r"<(?:p|div|html|body|br|h[1-6]|article|span)\b[^<>]*>", re.I)


def looks_like_html(text: str) -> bool:
    return bool(_HTML_TAG.search(text))


def parse_html(html: str) -> Parsed:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _html_title(soup)
    date = _html_date(soup)
    blocks: list[Block] = []
    _walk(soup, blocks, _containers(soup))
    return Parsed(blocks=blocks, title=title, date=date)


def _html_title(soup) -> str | None:
    h1 = soup.find("h1")
    if h1 and h1.get_text(strip=True):
        return _clean_inline(h1.get_text(" "))
    if soup.title and soup.title.get_text(strip=True):
        # Drop the site-name suffix that page titles carry ("标题_新浪财经", "标题 - 人民网").
        # Whitespace is collapsed first so the split pattern has no `\s+` to backtrack over.
        title = " ".join(soup.title.get_text().split())
        return re.split(r" [-|–—] |_", title)[0].strip() or None
    return None


def _html_date(soup) -> str | None:
    for attrs in ({"property": "article:published_time"}, {"name": "pubdate"},
                  {"name": "publishdate"}, {"name": "PubDate"}, {"name": "date"}):  # fmt: skip
        meta = soup.find("meta", attrs=attrs)
        if meta and parse_date(meta.get("content")):
            return parse_date(meta.get("content"))
    time = soup.find("time")
    return parse_date(time.get("datetime") or time.get_text()) if time else None


def _containers(soup) -> set[int]:
    """ids of the tags that hold a block element somewhere below them, found in one pass.

    Each block tag marks its ancestors up to the first one already marked, so every tag is
    marked at most once: linear even for pages nested thousands of levels deep.
    """
    containers: set[int] = set()
    for tag in soup.find_all(BLOCK_TAGS):
        for ancestor in tag.parents:
            if id(ancestor) in containers:
                break
            containers.add(id(ancestor))
    return containers


def _walk(root, blocks: list[Block], containers: set[int]) -> None:
    """Emit a block per innermost block element; inline runs between block children are blocks too.

    Iterative (a stack of child iterators), so deep nesting can't exhaust the Python stack.
    """
    from bs4.element import NavigableString, Tag

    stack: list[tuple[Iterator, list[tuple[str, bool]]]] = [(iter(root.children), [])]
    while stack:
        children, run = stack[-1]
        for child in children:
            if isinstance(child, Tag):
                name = child.name.lower()
                if name in DROP_TAGS or _is_hidden(child):
                    continue
                if name == "br":
                    run.append(("\x00", False))
                elif id(child) in containers:
                    _emit(run, blocks, heading=False)
                    run.clear()
                    stack.append((iter(child.children), []))
                    break  # descend; this level resumes from its iterator afterwards
                elif name in BLOCK_TAGS:
                    _emit(run, blocks, heading=False)
                    run.clear()
                    pieces = list(_inline_pieces(child, bold=_is_bold(child)))
                    _emit(pieces, blocks, heading=name in HEADING_TAGS)
                else:
                    run.extend(_inline_pieces(child, bold=_is_bold(child)))
            elif type(child) is NavigableString:  # skips comments, CDATA, doctype
                run.append((str(child), False))
        else:
            _emit(run, blocks, heading=False)
            stack.pop()


def _is_hidden(tag) -> bool:
    style = (tag.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or tag.has_attr("hidden")


def _is_bold(tag) -> bool:
    if tag.name in {"b", "strong"}:
        return True
    hints = " ".join(str(tag.get(attr, "")) for attr in ("style", "cms-style", "class"))
    return bool(_BOLD_HINT.search(hints))


def _inline_pieces(tag, bold: bool) -> Iterator[tuple[str, bool]]:
    """(text, bold) pieces below `tag` in reading order; iterative like _walk."""
    from bs4.element import NavigableString, Tag

    stack: list[tuple[Iterator, bool]] = [(iter(tag.children), bold)]
    while stack:
        children, bold = stack[-1]
        for child in children:
            if isinstance(child, Tag):
                name = child.name.lower()
                if name == "br":
                    yield "\x00", bold  # an explicit line break, unlike source newlines
                elif name not in DROP_TAGS and name != "img" and not _is_hidden(child):
                    stack.append((iter(child.children), bold or _is_bold(child)))
                    break
            elif type(child) is NavigableString:
                yield str(child), bold
        else:
            stack.pop()


def _emit(pieces: list[tuple[str, bool]], blocks: list[Block], heading: bool) -> None:
    text = _clean_inline("".join(piece for piece, _ in pieces))
    if not has_substance(text):
        return
    if not heading:
        bold_text = "".join(piece for piece, bold in pieces if bold)
        plain_text = "".join(piece for piece, bold in pieces if not bold)
        all_bold = has_substance(bold_text) and not has_substance(plain_text)
        heading = could_be_heading(text) and (all_bold or bool(NUMBERED_HEADING.match(text)))
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
