"""Web pages by URL → Markdown snapshots in a corpus folder, then indexed like any file.

The main text, title and publication date come from trafilatura, a maintained extractor,
rather than hand-written heuristics. Each snapshot keeps its URL as `url:` in the front
matter, so it becomes the document id and the citation links back to the page.

Only http(s) is fetched, and hosts that resolve to private, loopback or link-local
addresses are refused unless allow_private is set. The name is resolved once per hop and
the connection goes to exactly the addresses that were checked (the original name still
goes in the Host header and, for https, in SNI and the certificate check), so a DNS name
that answers a public address to the check and 127.0.0.1 to the fetch gains nothing.
Redirects are followed by hand, each hop resolved, checked and pinned the same way.
Proxy settings in the environment are not used: a proxy would resolve the name again.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml

from qa.errors import QAError

MAX_PAGE_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 20  # per socket operation: connect, and each read
MAX_REDIRECTS = 5
USER_AGENT = "policy-qa/0.1 (+https://pypi.org/project/policy-qa)"
_REDIRECTS = {301, 302, 303, 307, 308}
_PAGE_TYPES = {"text/html", "application/xhtml+xml", "text/plain"}
# Characters left as they are when quoting a path or query (keeps existing %XX escapes).
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


class FetchError(QAError):
    """A page could not be fetched or holds no article text."""


@dataclass(frozen=True)
class Snapshot:
    url: str
    path: Path
    title: str


@dataclass(frozen=True)
class Target:
    """A URL with its host resolved once; connections go to `addresses` and nowhere else."""

    url: str
    https: bool
    host: str  # ASCII (IDNA) host name, for the Host header, SNI and the certificate check
    port: int
    selector: str  # path and query, percent-encoded
    addresses: tuple[tuple, ...]  # getaddrinfo entries, every one checked


def check_url(url: str, allow_private: bool = False) -> Target:
    """Refuse other schemes, resolve the host once and refuse private or loopback addresses
    unless allowed; the returned Target pins the addresses that passed."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise FetchError(
            f"{url}: only http and https URLs can be fetched, not {parts.scheme or 'a bare path'}"
        )
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as error:
        raise FetchError(f"{url}: the host or port is not valid ({error})") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise FetchError(f"{url}: cannot resolve {parts.hostname} ({reason})") from None
    infos = [info for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not infos:
        raise FetchError(f"{url}: {parts.hostname} has no IPv4 or IPv6 address")
    if not allow_private:
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            if address.version == 6 and address.ipv4_mapped:  # ::ffff:127.0.0.1 is loopback
                address = address.ipv4_mapped
            if not address.is_global:
                raise FetchError(
                    f"{url}: {parts.hostname} is a private or local address ({address}); "
                    "pass --allow-private to fetch it anyway"
                )
    path = urllib.parse.quote(parts.path or "/", safe=_URL_SAFE)
    query = urllib.parse.quote(parts.query, safe=_URL_SAFE)
    return Target(
        url=url,
        https=parts.scheme == "https",
        host=host,
        port=port,
        selector=f"{path}?{query}" if query else path,
        addresses=tuple(infos),
    )


def _connect(addresses: tuple[tuple, ...], timeout: float) -> socket.socket:
    """A TCP socket to the first pinned address that answers; never a fresh lookup."""
    error: OSError = OSError("no address to connect to")
    for family, _, proto, _, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._pinned = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._pinned, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._pinned = target.addresses

    def connect(self) -> None:
        sock = _connect(self._pinned, self.timeout)
        try:  # the name, not the pinned IP, is what the certificate must match
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def download(url: str, allow_private: bool = False) -> tuple[str, str]:
    """(final URL, HTML text) of a page, with size, type and address checks on every hop."""
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        try:
            target = check_url(current, allow_private)
        except FetchError as error:
            if hop == 0:
                raise
            raise FetchError(f"{url}: redirected to {error}") from None
        pinned = _PinnedHTTPS if target.https else _PinnedHTTP
        connection = pinned(target, TIMEOUT_SECONDS)
        try:
            location, content_type, charset, body = _get(connection, target, url)
        except (OSError, http.client.HTTPException) as error:
            what = "the page" if hop == 0 else current
            raise FetchError(f"{url}: cannot fetch {what} ({error})") from None
        finally:
            connection.close()
        if location is None:
            if content_type not in _PAGE_TYPES:
                raise FetchError(f"{url}: the server sent {content_type}, not a web page")
            if len(body) > MAX_PAGE_BYTES:
                raise FetchError(f"{url}: the page is over {MAX_PAGE_BYTES // 2**20} MB")
            return current, _decode(body, charset)
        current = urllib.parse.urldefrag(urllib.parse.urljoin(current, location)).url
    raise FetchError(
        f"{url}: more than {MAX_REDIRECTS} redirects (the last to {current}); "
        "give the final address of the page instead"
    )


def _get(
    connection: http.client.HTTPConnection, target: Target, url: str
) -> tuple[str | None, str, str | None, bytes]:
    """(redirect location or None, content type, charset, body) of one GET."""
    connection.request(
        "GET", target.selector, headers={"User-Agent": USER_AGENT, "Accept": "text/html"}
    )
    response = connection.getresponse()
    if response.status in _REDIRECTS:
        location = _utf8(response.getheader("Location"))
        if not location:
            raise FetchError(f"{url}: the server answered {response.status} with no Location")
        return location, "", None, b""
    if not 200 <= response.status < 300:
        raise FetchError(f"{url}: the server answered {response.status} {response.reason}")
    content_type = response.headers.get_content_type()
    if content_type not in _PAGE_TYPES:  # don't download what will be refused anyway
        return None, content_type, None, b""
    body = response.read(MAX_PAGE_BYTES + 1)
    return None, content_type, response.headers.get_content_charset(), body


def _utf8(header: str | None) -> str | None:
    """http.client reads headers as Latin-1; servers often send raw UTF-8 in Location."""
    try:
        return header.encode("latin-1").decode("utf-8") if header else header
    except UnicodeError:
        return header


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
