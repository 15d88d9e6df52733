"""The SSRF-safe client refuses internal targets, however spelled, on every hop; real sockets."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.core import http as safe_http
from socialcrm.core.http import (
    IPAddress,
    SafeTransport,
    UnsafeURL,
    allowed_networks,
    check_url,
    check_url_async,
    is_public_address,
    safe_async_client,
)

# --- real local servers -----------------------------------------------------------------------


@dataclass
class LocalServer:
    """A threaded HTTP(S) server on a loopback address that records what reached it."""

    host: str
    port: int
    scheme: str = "http"
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    server: _RecordingServer

    def do_GET(self) -> None:
        self.server.record.seen.append((self.path, self.headers.get("Host")))
        query = parse_qs(urlsplit(self.path).query)
        if "to" in query:
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"ok from " + self.server.record.host.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True
    record: LocalServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Failed TLS handshakes are expected in the certificate test."""


@contextmanager
def serve(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    server = _RecordingServer((host, 0), _Handler)
    record = LocalServer(host=host, port=server.server_address[1])
    server.record = record
    if tls is not None:
        record.scheme = "https"
        tls.sni_callback = lambda _sock, name, _ctx: record.server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


ServerFactory = Callable[..., LocalServer]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def servers() -> Iterator[ServerFactory]:
    with ExitStack() as stack:

        def start(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> LocalServer:
            return stack.enter_context(serve(host, tls))

        yield start


@dataclass
class FakeResolver:
    """Stands in for DNS: names map to fixed answers, and every lookup is recorded."""

    answers: dict[str, list[str]]
    calls: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver({})
    monkeypatch.setattr(safe_http, "resolve_host", fake)
    return fake


def make_tls(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for ``name``: (server context, client context)."""
    now = dt.datetime.now(dt.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "socialcrm test CA")])
    ca_cert = (
        certificate("socialcrm test CA", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        certificate(name, leaf_key, ca_name)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server, client


# --- input-time checks (check_url) -------------------------------------------------------------

REFUSED_URLS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://2130706433/", "loopback"),  # decimal
    ("http://0177.0.0.1/", "0177.0.0.1"),  # octal, rejected by httpx's own parser
    ("http://0177.1/", "loopback"),  # octal, short form
    ("http://0x7f.1/", "loopback"),  # hex, short form
    ("http://0x7f000001/", "loopback"),  # hex, whole address
    ("http://0x7f.0.0.0x1/", "loopback"),
    ("http://127.1/", "loopback"),  # short
    ("http://127.0.0.1./", "loopback"),  # trailing dot
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1"),
    ("http://[fd00::1]/", "unique local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[fe80::1%25eth0]/", "zone identifiers"),
    ("http://[::]/", "unspecified"),
    ("http://[::7f00:1]/", "IPv4-compatible"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 form of 127.0.0.1"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254"),
    ("http://[2002:c0a8:101::1]/", "6to4 form of 192.168.1.1"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("http://[ff02::1]/", "multicast"),
    ("http://localhost/", "'localhost' (127.0.0.1)"),
    ("http://0.0.0.0/", "this network"),
    ("http://0/", "this network"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://100.64.0.1/", "shared address space"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
    ("http://user:secret@example.com/", "credentials"),
    ("http://:secret@example.com/", "credentials"),
    ("ftp://example.com/", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://example.com/", "scheme 'gopher'"),
    ("http:/no-host", "without a host"),
    ("http://1.2.3.4.5/", "looks like an IPv4 address"),
    ("http://example.123/", "looks like an IPv4 address"),
    ("http://256.1/", "out of range"),
]


@pytest.mark.parametrize(("url", "because"), REFUSED_URLS)
def test_check_url_refuses_internal_targets_however_spelled(url: str, because: str) -> None:
    with pytest.raises(UnsafeURL, match="refused") as refused:
        check_url(url)
    assert because in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/",
        "https://1.1.1.1/dns-query",
        "http://134744072/",  # decimal spelling of 8.8.8.8, parsed as what it is
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::808:808]/",
    ],
)
def test_check_url_accepts_public_literals(url: str) -> None:
    check_url(url)


def test_check_url_checks_every_resolved_address(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"mixed.example": ["8.8.8.8", "10.0.0.7"], "public.example": ["8.8.8.8"]}
    monkeypatch.setattr(
        safe_http,
        "resolve_host_sync",
        lambda host, port: [ipaddress.ip_address(a) for a in answers[host]],
    )

    check_url("https://public.example/@alice")
    with pytest.raises(UnsafeURL, match=r"'mixed.example' \(10.0.0.7\): it is private"):
        check_url("https://mixed.example/@alice")


def test_check_url_allow_list_admits_a_private_range() -> None:
    check_url("http://10.1.2.3:8080/", allowed_networks(["10.0.0.0/8"]))
    check_url("http://[::ffff:10.1.2.3]/", allowed_networks(["10.0.0.0/8"]))
    with pytest.raises(UnsafeURL):
        check_url("http://10.1.2.3/", allowed_networks(["10.0.0.0/16"]))


@pytest.mark.anyio
async def test_check_url_async_resolves_without_blocking(resolver: FakeResolver) -> None:
    resolver.answers["internal.example"] = ["192.168.1.10"]
    with pytest.raises(UnsafeURL, match="private"):
        await check_url_async("https://internal.example/")
    with pytest.raises(UnsafeURL, match="does not resolve"):
        await check_url_async("https://unknown.example/")
    assert resolver.calls == ["internal.example", "unknown.example"]


# --- the address predicate ---------------------------------------------------------------------

# Written from the RFCs, independently of the implementation's own table.
REFUSED_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
REFUSED_V6 = [
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
    "2001:db8::/32",
    "2001::/32",  # Teredo
    "100::/64",
]
v4_refused = st.sampled_from(REFUSED_V4).flatmap(lambda net: st.ip_addresses(network=net))
v6_refused = st.sampled_from(REFUSED_V6).flatmap(lambda net: st.ip_addresses(network=net))


def _embed(form: str, ipv4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    prefix = {"mapped": 0xFFFF << 32, "nat64": 0x64FF9B << 96}
    if form == "6to4":
        return ipaddress.IPv6Address((0x2002 << 112) | (int(ipv4) << 80))
    if form == "compatible":
        return ipaddress.IPv6Address(int(ipv4))
    return ipaddress.IPv6Address(prefix[form] | int(ipv4))


embedded_refused = st.builds(
    _embed, st.sampled_from(["mapped", "nat64", "6to4", "compatible"]), v4_refused
)


@given(v4_refused | v6_refused | embedded_refused)
def test_every_address_in_a_refused_range_is_refused(ip: IPAddress) -> None:
    assert not is_public_address(ip)
    with pytest.raises(UnsafeURL):
        check_url(f"http://[{ip}]/" if ip.version == 6 else f"http://{ip}/")


@given(v4_refused | v6_refused)
def test_an_allowed_cidr_admits_its_addresses(ip: IPAddress) -> None:
    network = ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")
    assert is_public_address(ip, [network])


@given(v4_refused)
def test_an_allowed_ipv4_cidr_admits_its_ipv4_mapped_form(ip: ipaddress.IPv4Address) -> None:
    assert is_public_address(_embed("mapped", ip), allowed_networks([f"{ip}/32"]))
    assert not is_public_address(_embed("nat64", ip), allowed_networks([f"{ip}/32"]))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


# --- the client, against real loopback servers ------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0177.1", "0x7f.1", "0x7f.0.0.1", "127.1", "127.0.0.1."],
)
async def test_client_refuses_loopback_spellings_and_nothing_reaches_the_server(
    servers: ServerFactory, host: str
) -> None:
    server = servers()
    async with safe_async_client() as client:
        with pytest.raises(UnsafeURL, match=r"127\.0\.0\.1"):
            await client.get(server.url(host=host))
    assert server.seen == []


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[fd00::1]"])
async def test_client_refuses_ipv6_internal_literals(servers: ServerFactory, host: str) -> None:
    server = servers()
    async with safe_async_client() as client:
        with pytest.raises(UnsafeURL):
            await client.get(server.url(host=host))
    assert server.seen == []


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "127.1"])
async def test_allow_list_lets_a_loopback_server_be_fetched_however_spelled(
    servers: ServerFactory, host: str
) -> None:
    server = servers()
    async with safe_async_client(allow_private=["127.0.0.0/8"]) as client:
        response = await client.get(server.url("/hello", host=host))
    assert response.status_code == 200
    assert response.text == "ok from 127.0.0.1"
    assert server.seen == [("/hello", f"{host}:{server.port}")]


@pytest.mark.anyio
async def test_client_refuses_localhost(servers: ServerFactory) -> None:
    server = servers()
    async with safe_async_client() as client:
        with pytest.raises(UnsafeURL, match=r"'localhost' \(127\.0\.0\.1\)"):
            await client.get(server.url(host="localhost"))
    assert server.seen == []


@pytest.mark.anyio
async def test_public_looking_name_that_resolves_to_loopback_is_refused(
    servers: ServerFactory, resolver: FakeResolver
) -> None:
    server = servers()
    resolver.answers["mastodon.example"] = ["127.0.0.1"]
    async with safe_async_client() as client:
        with pytest.raises(UnsafeURL, match=r"'mastodon.example' \(127\.0\.0\.1\): it is loopback"):
            await client.get(server.url("/api/v1/instance", host="mastodon.example"))
    assert server.seen == []


@pytest.mark.anyio
async def test_a_name_with_one_internal_address_among_public_ones_is_refused(
    servers: ServerFactory, resolver: FakeResolver
) -> None:
    server = servers("127.0.0.2")
    resolver.answers["mixed.example"] = ["127.0.0.2", "127.0.0.1"]
    async with safe_async_client(allow_private=["127.0.0.2/32"]) as client:
        with pytest.raises(UnsafeURL, match=r"\(127\.0\.0\.1\)"):
            await client.get(server.url(host="mixed.example"))
    assert server.seen == []


@pytest.mark.anyio
async def test_connection_goes_to_the_checked_address_with_the_name_as_host(
    servers: ServerFactory, resolver: FakeResolver
) -> None:
    # Nothing but the fake resolver knows "pinned.example": if the socket layer resolved the
    # name again (the DNS-rebinding window), the request could not connect at all.
    server = servers("127.0.0.2")
    resolver.answers["pinned.example"] = ["127.0.0.2"]
    async with safe_async_client(allow_private=["127.0.0.2/32"]) as client:
        first = await client.get(server.url("/one", host="pinned.example"))
        second = await client.get(server.url("/two", host="pinned.example"))
    assert (first.status_code, second.status_code) == (200, 200)
    assert str(first.url) == server.url("/one", host="pinned.example")
    assert server.seen == [
        ("/one", f"pinned.example:{server.port}"),
        ("/two", f"pinned.example:{server.port}"),
    ]
    assert resolver.calls == ["pinned.example"]  # once; the second request reused the socket


@pytest.mark.anyio
async def test_redirect_to_a_refused_address_is_refused_on_that_hop(
    servers: ServerFactory,
) -> None:
    allowed = servers("127.0.0.2")
    internal = servers("127.0.0.1")
    async with safe_async_client(allow_private=["127.0.0.2/32"]) as client:
        ok = await client.get(allowed.url("/start", host="127.0.0.2"))
        assert ok.status_code == 200
        with pytest.raises(UnsafeURL, match=r"127\.0\.0\.1: it is loopback"):
            await client.get(allowed.url(f"/start?to={internal.url('/admin')}"))
    assert [path for path, _ in allowed.seen] == ["/start", f"/start?to={internal.url('/admin')}"]
    assert internal.seen == []


@pytest.mark.anyio
async def test_redirect_to_a_name_resolving_internally_is_refused(
    servers: ServerFactory, resolver: FakeResolver
) -> None:
    allowed = servers("127.0.0.2")
    internal = servers("127.0.0.1")
    resolver.answers |= {"instance.example": ["127.0.0.2"], "rebound.example": ["127.0.0.1"]}
    target = internal.url("/admin", host="rebound.example")
    async with safe_async_client(allow_private=["127.0.0.2/32"]) as client:
        with pytest.raises(UnsafeURL, match=r"'rebound.example' \(127\.0\.0\.1\)"):
            await client.get(allowed.url(f"/hop?to={target}", host="instance.example"))
    assert resolver.calls == ["instance.example", "rebound.example"]  # one lookup per hop
    assert internal.seen == []


@pytest.mark.anyio
async def test_redirects_between_allowed_hosts_are_followed_and_each_hop_is_checked(
    servers: ServerFactory, resolver: FakeResolver
) -> None:
    first, second = servers("127.0.0.2"), servers("127.0.0.3")
    resolver.answers |= {"a.example": ["127.0.0.2"], "b.example": ["127.0.0.3"]}
    async with safe_async_client(allow_private=["127.0.0.2/32", "127.0.0.3/32"]) as client:
        response = await client.get(
            first.url(f"/hop?to={second.url('/end', host='b.example')}", host="a.example")
        )
    assert response.text == "ok from 127.0.0.3"
    assert [str(r.url) for r in response.history] == [
        first.url(f"/hop?to={second.url('/end', host='b.example')}", host="a.example")
    ]
    assert resolver.calls == ["a.example", "b.example"]


@pytest.mark.anyio
async def test_too_many_redirects_stop(servers: ServerFactory) -> None:
    server = servers()
    loop = server.url("/loop?to=/loop%3Fto%3D/loop")
    async with safe_async_client(allow_private=["127.0.0.1/32"], max_redirects=1) as client:
        with pytest.raises(httpx.TooManyRedirects):
            await client.get(loop)


@pytest.mark.anyio
async def test_https_keeps_sni_and_certificate_checks_of_the_name(
    servers: ServerFactory, resolver: FakeResolver, tmp_path: Path
) -> None:
    server_tls, client_tls = make_tls(tmp_path, "social.example")
    server = servers("127.0.0.1", server_tls)
    resolver.answers |= {"social.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]}
    transport = SafeTransport(allowed_networks(["127.0.0.1/32"]), verify=client_tls)
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        response = await client.get(server.url("/api", host="social.example"))
        assert response.status_code == 200
        # Same IP, same client, pooled connection open: a name the certificate does not
        # cover still fails verification instead of riding the existing TLS session.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.get(server.url("/api", host="other.example"))
    assert server.server_names[0] == "social.example"
    assert server.seen == [("/api", f"social.example:{server.port}")]


@pytest.mark.anyio
async def test_unresolvable_name_is_a_connect_error(resolver: FakeResolver) -> None:
    async with safe_async_client() as client:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve 'nowhere\.example'"):
            await client.get("https://nowhere.example/")


def test_client_always_has_timeouts_and_our_user_agent() -> None:
    client = safe_async_client(timeout=3.5)
    assert client.timeout == httpx.Timeout(3.5)
    assert client.headers["User-Agent"].startswith("socialcrm/")
    assert client.follow_redirects
    assert client.max_redirects == 5
    with pytest.raises(ValueError, match="timeout"):
        safe_async_client(timeout=0)
