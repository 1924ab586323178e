"""The document viewer: `/doc/<id>` shows a whole indexed document, `/doc/<id>/original` its file.

Citations link to `/doc/<quoted id>#p<n>` (qa.render.doc_url). The page is rebuilt from the
index alone (documents.text and the passages' paragraph numbers, offsets and locators); the
request only ever names a doc id, which is looked up as given, so no path from the request
reaches the filesystem. The original file is served only when the stored path really lies
inside the index's uploads folder or a corpus folder the index was built from. Pages are
static HTML with every piece of document text escaped (qa.render.escape) and no scripts: the
cited paragraph is highlighted with CSS :target.
"""

from __future__ import annotations

import html
import inspect
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from qa.authority import Authority
from qa.build import uploads_folder
from qa.documents import SUFFIXES
from qa.errors import DAMAGE, from_sqlite
from qa.render import doc_url, escape, safe_url
from qa.search import Index
from qa.structure import ARTICLE, DIVISION, OUTLINE, Locator

log = logging.getLogger(__name__)

NOT_FOUND = "未找到该文件 · No such document in the library"
ORIGINAL = "/original"
DOWNLOAD_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}  # anything else (html, md, txt) downloads as bytes: never rendered on our origin
# No scripts, no plugins, no forms, nothing loaded from elsewhere: the page is text and CSS.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")  # fmt: skip


@dataclass(frozen=True)
class Block:
    """One paragraph or heading as the reader sees it, with the paragraph numbers it carries."""

    numbers: tuple[int, ...]  # 1-based, as citations count them; empty if the index lost them
    text: str
    is_heading: bool


@dataclass(frozen=True)
class DocumentView:
    doc_id: str
    title: str
    date: str | None
    source: str | None
    issuer: str | None
    doc_number: str | None
    blocks: tuple[Block, ...]
    legal: bool  # articles (第一条…) were found: divisions and articles become headings
    authority: Authority | None
    successors: tuple[tuple[str, str | None], ...]  # (id or title, title if indexed)


def read_document(index: Index, doc_id: str) -> DocumentView | None:
    """The document `doc_id` of the index, or None when the index has no such id."""
    with index._lock:  # the Index's one SQLite connection, as Index._rows uses it
        reader = index._reader
        reader.refresh()
        try:
            row = reader.conn.execute(
                "SELECT doc_id, title, date, source, issuer, doc_number, text FROM documents "
                "WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
            if row is None:
                return None
            # A paragraph stored once for several documents sits in `duplicates` for this one.
            parts = reader.conn.execute(
                "SELECT paragraph, paragraph_end, char_start, char_end, locator FROM passages "
                "WHERE doc_id = ? UNION ALL SELECT paragraph, paragraph_end, char_start, "
                "char_end, locator FROM duplicates WHERE doc_id = ?",
                (doc_id, doc_id),
            ).fetchall()
            authority = reader.authorities().get(doc_id)
            later = authority.superseded_by if authority else ()
            known = dict(reader.conn.execute(
                f"SELECT doc_id, title FROM documents WHERE doc_id IN ({','.join('?' * len(later))})",
                later,
            ).fetchall()) if later else {}  # fmt: skip
            units = _units(parts)
            blocks = split_blocks(row["text"], [u[:4] for u in units])
        except DAMAGE as error:
            raise from_sqlite(index.index_dir, error) from error
    return DocumentView(
        doc_id=row["doc_id"], title=row["title"], date=row["date"], source=row["source"],
        issuer=row["issuer"], doc_number=row["doc_number"], blocks=tuple(blocks),
        legal=any(u[4] is not None and u[4].is_legal for u in units), authority=authority,
        successors=tuple((s, known.get(s)) for s in later),
    )  # fmt: skip


def _units(rows) -> list[tuple[int, int, int, int, Locator | None]]:
    """(first paragraph, last paragraph, start, end, locator) per paragraph group, in order;
    the windows of one long paragraph are joined back."""
    units: dict[tuple[int, int], list] = {}
    for r in rows:
        key = (int(r["paragraph"]), max(int(r["paragraph"]), int(r["paragraph_end"])))
        start, end = int(r["char_start"]), int(r["char_end"])
        if key in units:
            units[key][2] = min(units[key][2], start)
            units[key][3] = max(units[key][3], end)
        else:
            units[key] = [*key, start, end, Locator.from_json(r["locator"])]
    return [tuple(u) for _, u in sorted(units.items())]


def split_blocks(text: str, units: list[tuple[int, int, int, int]]) -> list[Block]:
    """The document's blocks, from its text (blocks joined by newlines) and its passages.

    Text between passages is headings (a heading never becomes a passage) and takes the
    paragraph numbers the passages skip. A block with a line break of its own makes a group
    ambiguous; its lines then go to the last number of the group, so no text is lost.
    """
    blocks: list[Block] = []
    pos, next_number = 0, 1
    for first, last, start, end in units:
        start, end = max(start, pos), min(end, len(text))
        if end <= start:
            continue
        blocks += _assign(text[pos:start], range(next_number, first), heading=True)
        blocks += _assign(text[start:end], range(first, last + 1), heading=False)
        pos, next_number = end, max(next_number, last + 1)
    tail = [line for line in text[pos:].split("\n") if line.strip()]
    blocks += _assign("\n".join(tail), range(next_number, next_number + len(tail)), heading=True)
    return blocks


def _assign(chunk: str, numbers: range, heading: bool) -> list[Block]:
    lines = [line for line in chunk.split("\n") if line.strip()]
    numbers = list(numbers)
    if not lines:
        return []
    if not numbers:
        return [Block((), line, heading) for line in lines]
    if len(lines) >= len(numbers):
        *single, rest = numbers
        return [Block((n,), line, heading) for n, line in zip(single, lines)] + [
            Block((rest,), "\n".join(lines[len(single) :]), heading)
        ]
    pairs = [Block((n,), line, heading) for n, line in zip(numbers, lines[:-1])]
    return [*pairs, Block(tuple(numbers[len(lines) - 1 :]), lines[-1], heading)]


def original_file(index: Index, doc_id: str) -> Path | None:
    """The document's file, if its real path lies inside the uploads folder or a corpus folder
    the index was built from, and it is a readable document type; else None."""
    with index._lock:
        reader = index._reader
        reader.refresh()
        try:
            row = reader.conn.execute(
                "SELECT path FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
            roots = [r[0] for r in reader.conn.execute("SELECT DISTINCT root FROM documents")]
        except DAMAGE as error:
            raise from_sqlite(index.index_dir, error) from error
    if row is None or not row["path"]:
        return None
    real = Path(os.path.realpath(row["path"]))
    if real.suffix.lower() not in SUFFIXES or not real.is_file():
        return None
    for root in [uploads_folder(index.index_dir), *filter(None, roots)]:
        folder = Path(os.path.realpath(root))
        if folder.parent != folder and real.is_relative_to(folder):  # never "/" as a root
            return real
    return None


def download_name(path: Path) -> str:
    """A file name safe in a header and on the user's disk: word characters, dot and dash."""
    stem = re.sub(r"[^\w\-]+", "_", path.stem).strip("._")[:80] or "document"
    return stem + re.sub(r"[^\w.]", "", path.suffix.lower())


# ---- the page ------------------------------------------------------------------------------

LABELS = (("issuer", "发文机关 Issuer"), ("doc_number", "文号 No."), ("date", "发布日期 Date"))


def _heading_level(text: str, legal: bool) -> int:
    division = DIVISION.match(text) if legal else None
    if division:
        return 2 if division.group(1) in "编章" else 3
    outline = next((i for i, p in enumerate(OUTLINE) if p.match(text)), 0)
    return 2 + outline


def _block_html(block: Block, legal: bool, title: str) -> str:
    anchor = f' id="p{block.numbers[0]}"' if block.numbers else ""
    extra = "".join(f'<span id="p{n}"></span>' for n in block.numbers[1:])
    number = ""
    if block.numbers:
        shown = "–".join(dict.fromkeys(str(n) for n in (block.numbers[0], block.numbers[-1])))
        number = f'<a class="pn" href="#p{block.numbers[0]}" title="第{shown}段">{shown}</a>'
    text = block.text.strip()
    is_division = bool(legal and DIVISION.match(text) and len(text) <= 30)
    if block.is_heading or is_division:
        level = _heading_level(text, legal)
        # Chapters of a law and the title line are centred, as printed; outline headings not.
        centred = text == title or (level == 2 and is_division)
        css = "blk centre" if centred else "blk"
        return f'<h{level} class="{css}"{anchor}>{number}{extra}{escape(text)}</h{level}>'
    article = ARTICLE.match(text) if legal else None
    if article:  # 第二十二条 as a run-in heading, the article's text after it
        label = article.group(0).strip(" *\u3000")
        rest = text[article.end() :].lstrip(" *\u3000")
        return (f'<div class="blk para"{anchor}>{number}{extra}<h4 class="art">{escape(label)}'
                f"</h4> {escape(rest)}</div>")  # fmt: skip
    return f'<p class="blk para"{anchor}>{number}{extra}{escape(text)}</p>'


def _status_html(view: DocumentView) -> tuple[list[tuple[str, str]], str]:
    """(meta rows, warning) of the document's authority."""
    auth = view.authority
    if auth is None:
        return [], ""
    rows = [("效力层级 Level", escape(auth.level))] if auth.level else []
    state = "ok" if auth.in_force else "bad"
    rows.append(("时效性 Status", f'<span class="st-{state}">{escape(auth.status)}</span>'))
    if auth.effective:
        rows.append(("施行日期 In force from", escape(auth.effective)))
    if auth.in_force:
        return rows, ""
    names = []
    for ident, title in view.successors:
        if title is None:
            names.append(escape(ident))
        else:
            names.append(
                f'<a href="{html.escape(doc_url(ident), quote=True)}">《{escape(title)}》</a>'
            )
    later = "、".join(names)
    warning = (
        f'<p class="repealed" role="alert"><strong>{escape(auth.status)}</strong>：本文件不是现行规定'
        + (f"，已由 {later} 取代" if later else "")
        + "。 / This document no longer governs"
        + (f"; replaced by {later}" if later else "")
        + ".</p>"
    )
    return rows, warning


def page_html(view: DocumentView, downloadable: bool) -> str:
    """The standalone, script-free HTML page of a document."""
    rows = [(label, escape(getattr(view, field))) for field, label in LABELS
            if getattr(view, field)]  # fmt: skip
    status_rows, warning = _status_html(view)
    rows += status_rows
    meta = "".join(f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in rows)
    links = []
    url = safe_url(view.source)
    if url:
        links.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" '
                     f'rel="noopener noreferrer nofollow">原文网页 Original page ↗</a>')  # fmt: skip
    elif view.source and view.source != view.issuer:
        rows.append(("来源 Source", escape(view.source)))
    if downloadable:
        href = html.escape(doc_url(view.doc_id) + ORIGINAL, quote=True)
        links.append(f'<a href="{href}" download>下载原件 Download the original</a>')
    body = "\n".join(_block_html(block, view.legal, view.title) for block in view.blocks)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(view.title)}</title><style>{CSS}</style></head>
<body><header class="doc-head"><nav><a href="/">← 政策问答 · Policy QA</a></nav>
<h1>{escape(view.title)}</h1><dl class="meta">{meta}</dl>{warning}
<p class="links">{" · ".join(links)}</p></header>
<main class="doc-body">{body}</main></body></html>"""


CSS = """
:root { color-scheme: light dark; --bg: #fbfaf6; --fg: #1d2025; --muted: #5b626d;
  --line: #ddd8cc; --link: #0b57d0; --accent: #a61b22; --hl: #fff0b3; --hl-edge: #c8930a;
  --warn-bg: #fdeceb; --warn-fg: #8c1b1b; --ok: #1e6b34; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15171b; --fg: #e7e5e0; --muted: #a3aab4; --line: #363b44; --link: #8ab4f8;
    --accent: #ff8a80; --hl: #433700; --hl-edge: #e6b422; --warn-bg: #3b1719; --warn-fg: #ffb4ab;
    --ok: #7ed492; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 17px/1.9 "Noto Serif CJK SC", "Source Han Serif SC", "Songti SC", "SimSun", serif; }
a { color: var(--link); }
.doc-head, .doc-body { max-width: 46rem; margin: 0 auto; padding: 0 1.25rem; }
.doc-head { padding-top: 1rem; padding-bottom: .5rem; border-bottom: 1px solid var(--line); }
.doc-head nav { font: 14px/1.6 system-ui, sans-serif; }
.doc-head nav a { text-decoration: none; }
h1 { font-size: 1.6rem; line-height: 1.45; margin: .8rem 0 .6rem; text-align: center; }
.meta { display: flex; flex-wrap: wrap; gap: .2rem 1.4rem; margin: 0; justify-content: center;
  font: 14px/1.7 system-ui, sans-serif; }
.meta div { display: flex; gap: .4rem; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.st-ok { color: var(--ok); font-weight: 600; }
.st-bad { color: var(--accent); font-weight: 700; }
.repealed { background: var(--warn-bg); color: var(--warn-fg); border-left: 4px solid var(--accent);
  padding: .5rem .8rem; border-radius: 4px; font: 15px/1.6 system-ui, sans-serif; }
.repealed a { color: inherit; }
.links { text-align: center; font: 14px/1.6 system-ui, sans-serif; margin: .5rem 0; }
.doc-body { padding-top: 1rem; padding-bottom: 40vh; }
.blk { position: relative; padding: .15rem .6rem .15rem 3rem; margin: .45rem -.6rem .45rem -3rem;
  border-radius: 6px; scroll-margin-top: 30vh; }
h2.blk, h3.blk, h4.blk, h5.blk { line-height: 1.5; margin-top: 1.4rem; }
h2.blk { font-size: 1.3rem; }
.centre { text-align: center; }
h3.blk { font-size: 1.12rem; }
h4.blk, h5.blk { font-size: 1.02rem; }
.para { text-indent: 0; }
.art { display: inline; font-size: 1em; margin: 0 .3em 0 0; }
.pn { position: absolute; left: 0; width: 2.3rem; text-align: right; color: var(--muted);
  font: 12px/2.9 system-ui, sans-serif; text-decoration: none; user-select: none; }
.pn:hover { color: var(--link); }
.blk:target { background: var(--hl); box-shadow: inset 4px 0 0 var(--hl-edge); }
.blk:target .pn { color: var(--fg); font-weight: 700; }
@media (max-width: 600px) {
  .blk { padding-left: 2.2rem; margin-left: -.6rem; }
  .pn { width: 1.7rem; }
}
@media print { .pn, .links, nav { display: none; } .blk { padding-left: 0; margin-left: 0; } }
"""


# ---- the routes ----------------------------------------------------------------------------


def _gradio_app(server):
    """The Gradio app mounted on `server`: its login tokens decide who may read."""
    for route in server.router.routes:
        app = getattr(route, "app", None)
        if hasattr(app, "tokens") and hasattr(app, "cookie_id"):
            return app
    return None


async def _logged_in(server, request) -> bool:
    """True when the app needs no login, or the request carries Gradio's login cookie."""
    app = _gradio_app(server)
    if app is None:
        return False  # Gradio not mounted (yet): refuse rather than guess
    dependency = getattr(app, "auth_dependency", None)
    if dependency is not None:
        user = dependency(request)
        return (await user if inspect.isawaitable(user) else user) is not None
    if getattr(app, "auth", None) is None:
        return True
    token = request.cookies.get(f"access-token-{app.cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{app.cookie_id}"
    )
    return token is not None and app.tokens.get(token) is not None


def mount(server, index: Index) -> None:
    """Serve the viewer on build_server's FastAPI app, ahead of Gradio's catch-all mount at "/",
    behind the same middleware (Host, Origin) and the same login."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    def respond(doc_id: str):
        view = read_document(index, doc_id)
        if view is not None:
            page = page_html(view, original_file(index, doc_id) is not None)
            return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP,
                                               "X-Content-Type-Options": "nosniff"})  # fmt: skip
        base = doc_id[: -len(ORIGINAL)] if doc_id.endswith(ORIGINAL) else None
        path = original_file(index, base) if base else None
        if path is None:
            return PlainTextResponse(NOT_FOUND, status_code=404)
        name = download_name(path)
        fallback = name.encode("ascii", "replace").decode().replace("?", "_")
        disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
        return FileResponse(path, media_type=DOWNLOAD_TYPES.get(path.suffix.lower(),
                                                                "application/octet-stream"),
                            headers={"Content-Disposition": disposition,
                                     "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": "sandbox; default-src 'none'"})  # fmt: skip

    async def document(request):
        if not await _logged_in(server, request):
            return HTMLResponse('<!doctype html><meta charset="utf-8"><p>请先<a href="/">登录</a>。'
                                ' / Please <a href="/">log in</a> first.</p>', status_code=401)  # fmt: skip
        try:
            return await run_in_threadpool(respond, request.path_params["doc_id"])
        except Exception:
            log.exception("document view failed")
            return PlainTextResponse("出错了，请稍后再试。/ Something went wrong.", status_code=500)

    # Starlette decodes the path once (%2F → /): the id is looked up exactly as that gives it.
    server.router.routes.insert(0, Route("/doc/{doc_id:path}", document, methods=["GET"]))
