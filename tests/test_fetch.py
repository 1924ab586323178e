"""Web pages by URL: a local HTTP server stands in for the web (no internet here)."""

from __future__ import annotations

import datetime
import errno
import functools
import http.server
import ipaddress
import socket
import ssl
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

import qa.fetch
from qa import Index
from qa.cli import build_main
from qa.documents import read_document
from qa.fetch import FetchError, check_url, download, snapshot

PAGES = Path(__file__).parent / "data" / "pages"
SEEN: list[tuple[str, str]] = []  # (path, Host header) of every request the local servers got
PUBLIC = "93.184.216.34"  # a global address; the fake network routes it to the local servers
ELSEWHERE = "93.184.216.35"  # a global address the fake network cannot reach


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        SEEN.append((self.path, self.headers.get("Host", "")))
        path, _, query = self.path.partition("?")
        if path in {"/moved", "/bounce", "/loop"}:
            to = {"/moved": "/news.html", "/loop": "/loop"}.get(path)
            self.send_response(302)
            self.send_header("Location", to or urllib.parse.parse_qs(query)["to"][0])
            self.end_headers()
            return
        super().do_GET()


def _serve(tls: ssl.SSLContext | None = None) -> http.server.ThreadingHTTPServer:
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(PAGES))
    )
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="module")
def server():
    httpd = _serve()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def seen() -> list[tuple[str, str]]:
    SEEN.clear()
    return SEEN


class FakeNetwork:
    """Stands in for DNS and routing, so no test touches the real network.

    `dns` maps a name to its answers in turn (the last one repeats), so a name can answer a
    public address first and 127.0.0.1 afterwards, like a DNS-rebinding attacker. Connections
    to addresses in `routes` reach the local server on the same port; loopback connects as
    usual; any other address is unreachable.
    """

    def __init__(self) -> None:
        self.dns: dict[str, list[list[str]]] = {}
        self.routes: set[str] = set()
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []
        self.real_getaddrinfo = socket.getaddrinfo
        self.real_connect = socket.socket.connect

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.dns:
            return self.real_getaddrinfo(host, port, family, type, proto, flags)
        self.lookups.append(host)
        answers = self.dns[host]
        ips = answers[min(self.lookups.count(host), len(answers)) - 1]
        stream, tcp = socket.SOCK_STREAM, socket.IPPROTO_TCP
        return [(socket.AF_INET, stream, tcp, "", (ip, int(port))) for ip in ips]

    def connect(self, sock: socket.socket, address):
        if sock.family == socket.AF_INET:
            ip, port = address
            self.connects.append((ip, port))
            if ip in self.routes:
                address = ("127.0.0.1", port)
            elif not ipaddress.ip_address(ip).is_loopback:
                raise OSError(errno.ENETUNREACH, "Network is unreachable (test network)")
        return self.real_connect(sock, address)


@pytest.fixture
def network(monkeypatch) -> FakeNetwork:
    net = FakeNetwork()
    monkeypatch.setattr(socket, "getaddrinfo", net.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: net.connect(sock, address))
    monkeypatch.setattr(qa.fetch, "TIMEOUT_SECONDS", 2)  # only stops a hang
    return net


def test_snapshot_keeps_article_title_date_and_url(server, tmp_path):
    url = f"{server}/news.html"
    page = snapshot(url, tmp_path, allow_private=True)
    front = yaml.safe_load(page.path.read_text(encoding="utf-8").split("---")[1])
    assert front == {"title": "全国碳市场扩围：钢铁、水泥、铝冶炼行业纳入管理", "url": url,
                     "date": "2025-03-26", "source": "示例财经网"}  # fmt: skip
    doc = read_document(page.path, tmp_path)
    assert doc.doc_id == url and doc.source == url and doc.date == "2025-03-26"
    assert [b.text for b in doc.blocks] == [
        "生态环境部近日印发《全国碳排放权交易市场覆盖钢铁、水泥、铝冶炼行业工作方案》，标志着全国碳市场首次扩大行业覆盖范围。",
        "根据工作方案，钢铁、水泥、铝冶炼行业将新增纳入重点排放单位约1500家，新增覆盖二氧化碳排放量约30亿吨，占全国二氧化碳排放总量的20%以上。",
        "工作方案明确，2024年度为上述行业的首个管控年度，2027年前配额以免费分配为主，之后逐步引入有偿分配。",
        "业内人士表示，扩围将进一步发挥碳市场在控制温室气体排放、推动行业绿色低碳转型方面的作用。",
    ]
    for furniture in ("首页", "网友", "相关阅读", "责任编辑", "版权", "tracker"):
        assert furniture not in doc.text


def test_redirects_are_followed(server, tmp_path):
    page = snapshot(f"{server}/moved", tmp_path, allow_private=True)
    assert page.title.startswith("全国碳市场扩围")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.html", "javascript:alert(1)", "/etc/passwd"]
)
def test_other_schemes_are_refused(url):
    with pytest.raises(FetchError, match="only http and https"):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.8", "192.168.1.1", "169.254.169.254", "[::1]"]
)
def test_private_addresses_need_allow_private(host):
    with pytest.raises(FetchError, match="private or local address.*--allow-private"):
        check_url(f"http://{host}/page.html")


def test_missing_page_is_a_clear_error(server, tmp_path):
    with pytest.raises(FetchError, match="404"):
        snapshot(f"{server}/nope.html", tmp_path, allow_private=True)


def test_cli_indexes_a_url_and_cites_it(server, tmp_path, monkeypatch, fake_embedder, capsys):
    import qa.embedding

    monkeypatch.setattr(qa.embedding, "load_embedder", lambda *args, **kwargs: fake_embedder)
    index_dir = tmp_path / "index"
    url = f"{server}/news.html"
    assert build_main(["--url", url, "--allow-private", "--index-dir", str(index_dir), "-q"]) == 0
    assert capsys.readouterr().out.startswith("1 documents (1 added")
    [hit] = Index(index_dir, embedder=fake_embedder).search(
        "钢铁水泥铝冶炼新增纳入多少家重点排放单位", k=1
    )
    assert (hit.doc_id, hit.source, hit.date) == (url, url, "2025-03-26")
    # A later plain build keeps the fetched page in sync instead of dropping it.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# 甲烷\n\n推进煤矿瓦斯抽采利用，减少甲烷排放。\n", encoding="utf-8"
    )
    assert build_main(["--corpus", str(corpus), "--index-dir", str(index_dir), "-q"]) == 0
    assert "2 documents (1 added, 0 updated, 0 removed, 1 unchanged)" in capsys.readouterr().out


def test_cli_refuses_private_url_without_flag(tmp_path, capsys):
    assert (
        build_main(["--url", "http://127.0.0.1:9/x.html", "--index-dir", str(tmp_path / "i")]) == 1
    )
    assert "private or local address" in capsys.readouterr().err


def test_rebinding_name_never_reaches_a_local_server(server, network, seen, tmp_path):
    port = urllib.parse.urlsplit(server).port
    network.dns["rebind.test"] = [[ELSEWHERE], ["127.0.0.1"]]  # public to the check, then local
    url = f"http://rebind.test:{port}/news.html"
    with pytest.raises(FetchError, match=r"rebind\.test.*cannot fetch.*unreachable"):
        snapshot(url, tmp_path)
    assert seen == []
    assert network.lookups == ["rebind.test"]  # resolved once: the checked address is the one used
    assert network.connects == [(ELSEWHERE, port)]
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_a_private_address_is_refused(server, network, seen):
    port = urllib.parse.urlsplit(server).port
    network.dns["public.test"] = [[PUBLIC]]
    network.routes.add(PUBLIC)  # the allowed host is served by the local server
    network.dns["inside.test"] = [["10.0.0.8", PUBLIC]]
    network.dns["rebind.test"] = [[ELSEWHERE], ["127.0.0.1"]]
    for target, refusal in [
        (f"http://rebind.test:{port}/news.html", f"cannot fetch http://rebind.test:{port}"),
        (f"http://127.0.0.1:{port}/news.html", "redirected to .*private or local address"),
        (f"http://inside.test:{port}/news.html", "redirected to .*private or local address"),
    ]:
        seen.clear()
        bounce = f"/bounce?to={urllib.parse.quote(target, safe='')}"
        with pytest.raises(FetchError, match=refusal):
            download(f"http://public.test:{port}{bounce}")
        assert seen == [(bounce, f"public.test:{port}")], target
    assert network.lookups.count("rebind.test") == 1
    assert all(ip in (PUBLIC, ELSEWHERE) for ip, _ in network.connects)


def test_allow_private_fetches_a_local_page_directly(server, network, seen, tmp_path, monkeypatch):
    # A proxy would resolve the name itself, so the pinned fetch must not use one.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    port = urllib.parse.urlsplit(server).port
    network.dns["intranet.test"] = [["127.0.0.1"]]
    url = f"http://intranet.test:{port}/moved"
    page = snapshot(url, tmp_path, allow_private=True)
    front = yaml.safe_load(page.path.read_text(encoding="utf-8").split("---")[1])
    assert front == {"title": "全国碳市场扩围：钢铁、水泥、铝冶炼行业纳入管理", "url": url,
                     "date": "2025-03-26", "source": "示例财经网"}  # fmt: skip
    host = f"intranet.test:{port}"
    assert seen == [("/moved", host), ("/news.html", host)]
    assert network.connects == [("127.0.0.1", port)] * 2


def test_redirect_loops_are_cut_off(server, seen):
    limit = qa.fetch.MAX_REDIRECTS
    with pytest.raises(FetchError, match=f"more than {limit} redirects"):
        download(f"{server}/loop", allow_private=True)
    assert seen == [("/loop", server.removeprefix("http://"))] * (limit + 1)


def _certificates(folder: Path, name: str) -> tuple[Path, Path]:
    """(CA certificate, server certificate + key) for `name`, made fresh for the test."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "policy-qa test CA")])
    usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "encipher_only", "decipher_only"), False)  # fmt: skip

    def certificate(subject, public_key, extensions):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )  # fmt: skip
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key.public_key(), [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])  # fmt: skip
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    leaf = certificate(subject, key.public_key(), [
        (x509.SubjectAlternativeName([x509.DNSName(name)]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])  # fmt: skip
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return folder / "ca.pem", folder / "server.pem"


def test_https_is_pinned_and_checks_the_name(network, seen, tmp_path, monkeypatch):
    ca, chain = _certificates(tmp_path, "secure.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the client trusts the test CA
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(chain)
    names: list[str | None] = []
    tls.sni_callback = lambda sock, name, context: names.append(name)
    httpd = _serve(tls)
    try:
        port = httpd.server_address[1]
        network.dns["secure.test"] = [[PUBLIC], [ELSEWHERE]]  # a second lookup goes elsewhere
        network.dns["other.test"] = [[PUBLIC]]
        network.routes.add(PUBLIC)
        final_url, html = download(f"https://secure.test:{port}/news.html")
        assert final_url == f"https://secure.test:{port}/news.html" and "钢铁、水泥" in html
        assert names == ["secure.test"] and seen == [("/news.html", f"secure.test:{port}")]
        assert network.lookups == ["secure.test"] and network.connects == [(PUBLIC, port)]
        # The certificate is checked against the name asked for, not the pinned address.
        with pytest.raises(FetchError, match="other.test.*cannot fetch.*certificate"):
            download(f"https://other.test:{port}/news.html")
        assert len(seen) == 1
    finally:
        httpd.shutdown()
