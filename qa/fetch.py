"""Web pages by URL → Markdown snapshots in a corpus folder, then indexed like any file.

The main text, title and publication date come from trafilatura, a maintained extractor,
rather than hand-written heuristics. Each snapshot keeps its URL as `url:` in the front
matter, so it becomes the document id and the citation links back to the page.

Only http(s) is fetched, and hosts that resolve to private, loopback or link-local
addresses are refused (checked again on every redirect) unless allow_private is set.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from qa.errors import QAError

MAX_PAGE_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 20
USER_AGENT = "policy-qa/0.1 (+https://pypi.org/project/policy-qa)"


class FetchError(QAError):
    """A page could not be fetched or holds no article text."""


@dataclass(frozen=True)
class Snapshot:
    url: str
    path: Path
    title: str


def check_url(url: str, allow_private: bool = False) -> None:
    """Refuse other schemes, and private or loopback hosts unless allowed."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise FetchError(
            f"{url}: only http and https URLs can be fetched, not {parts.scheme or 'a bare path'}"
        )
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host name")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise FetchError(f"{url}: cannot resolve {parts.hostname} ({error.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise FetchError(
                f"{url}: {parts.hostname} is a private or local address ({address}); "
                "pass --allow-private to fetch it anyway"
            )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, self.allow_private)  # a public page must not bounce us inside
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, allow_private: bool = False) -> tuple[str, str]:
    """(final URL, HTML text) of a page, with size, type and address checks."""
    check_url(url, allow_private)
    opener = urllib.request.build_opener(_CheckedRedirects(allow_private))
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "text/html"})
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            content_type = response.headers.get_content_type()
            if content_type not in {"text/html", "application/xhtml+xml", "text/plain"}:
                raise FetchError(f"{url}: the server sent {content_type}, not a web page")
            body = response.read(MAX_PAGE_BYTES + 1)
            charset = response.headers.get_content_charset()
            final_url = response.geturl()
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url}: the server answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"{url}: cannot fetch the page ({reason})") from None
    if len(body) > MAX_PAGE_BYTES:
        raise FetchError(f"{url}: the page is over {MAX_PAGE_BYTES // 2**20} MB")
    return final_url, _decode(body, charset)


def _decode(body: bytes, charset: str | None) -> str:
    for encoding in filter(None, (charset, "utf-8", "gb18030")):
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace")


def snapshot(url: str, folder: Path, allow_private: bool = False) -> Snapshot:
    """Fetch `url`, extract its article, and write it to `folder` as a Markdown file."""
    import trafilatura

    final_url, html = download(url, allow_private)
    markdown = trafilatura.extract(
        html, url=final_url, output_format="markdown", include_comments=False,
        include_tables=True, include_links=False, include_images=False, favor_precision=True,
    )  # fmt: skip
    if not markdown or not markdown.strip():
        raise FetchError(f"{url}: no article text found on the page")
    meta = trafilatura.extract_metadata(html, default_url=final_url)
    title = (meta.title if meta and meta.title else None) or final_url
    front = {
        "title": title,
        "url": url,
        "date": meta.date if meta and meta.date else None,
        "source": (meta.sitename if meta and meta.sitename else None)
        or urllib.parse.urlsplit(url).hostname,
        "author": meta.author if meta and meta.author else None,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(url.encode()).hexdigest()[:20]}.md"
    text = (
        "---\n"
        + yaml.safe_dump({k: v for k, v in front.items() if v}, allow_unicode=True)
        + "---\n\n"
    )
    temp = path.with_suffix(".md.tmp")
    temp.write_text(text + _without_title(markdown, title) + "\n", encoding="utf-8")
    temp.replace(path)
    return Snapshot(url=url, path=path, title=title)


def _without_title(markdown: str, title: str) -> str:
    """trafilatura may repeat the title as the first line; the front matter already has it."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].lstrip("# ").strip() == title.strip():
        lines = lines[1:]
    return "\n".join(lines).strip()


def read_url_file(path: Path) -> list[str]:
    """URLs from a file, one per line; blank lines and # comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise QAError(f"cannot read the URL list {path} ({error.strerror})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
