"""SSRF-safe outbound HTTP for user-supplied URLs (Mastodon instances, crawled websites).

A URL is refused unless its scheme is http(s), it carries no credentials and every address its
host stands for is public (or inside an operator-allowed CIDR). The host is resolved once per
new connection and the socket goes to an address that passed the check, so a DNS answer that
changes between check and connect (DNS rebinding) cannot reach an internal service. Redirects
are followed by httpx above the transport, so every hop is checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final, TypeAlias

import httpcore
import httpx

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
AsyncResolver: TypeAlias = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

DEFAULT_USER_AGENT: Final = "socialcrm/0.1 (+https://github.com/socialcrm)"
_ALLOW_HINT: Final = "allow it with SOCIALCRM_ALLOW_PRIVATE_FETCH if this is intended"


class UnsafeURL(ValueError):
    """A URL the server refuses to fetch; the message names the URL part or address and why."""


def _table(*rows: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in rows)


# Written out rather than relying on ipaddress.is_private/is_global alone: those flags changed
# between Python patch releases, and a named range gives the operator a precise refusal message.
_REFUSED_V4: Final = _table(
    ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
    ("10.0.0.0/8", "private (10.0.0.0/8)"),
    ("100.64.0.0/10", "shared address space (100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
    ("172.16.0.0/12", "private (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation (192.0.2.0/24)"),
    ("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
    ("192.168.0.0/16", "private (192.168.0.0/16)"),
    ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved (240.0.0.0/4, includes broadcast)"),
)
_REFUSED_V6: Final = _table(
    ("::/128", "unspecified (::)"),
    ("::1/128", "loopback (::1)"),
    ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
    ("100::/64", "discard-only (100::/64)"),
    ("2001::/23", "IETF protocol assignments (2001::/23)"),
    ("2001:db8::/32", "documentation (2001:db8::/32)"),
    ("3fff::/20", "documentation (3fff::/20)"),
    ("5f00::/16", "SRv6 segment identifiers (5f00::/16)"),
    ("fc00::/7", "unique local (fc00::/7)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("fec0::/10", "site-local (fec0::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
)
_GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")
_IPV4_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR: Final = ipaddress.IPv6Network("2002::/16")
_TEREDO: Final = ipaddress.IPv6Network("2001::/32")


def allowed_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse operator CIDRs (``Settings.allow_private_fetch``) into networks."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def is_public_address(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> bool:
    """True if ``ip`` may be fetched: publicly routable, or inside an allowed CIDR."""
    return _is_allowed(ip, allowed) or _refusal_reason(ip) is None


def _is_allowed(ip: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    if any(ip in network for network in allowed):
        return True
    # An IPv4-mapped address is the IPv4 host itself on a dual-stack socket.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped is not None and any(mapped in network for network in allowed)


def _refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched, or None if it is a public address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _refusal_reason_v4(ip)
    return _refusal_reason_v6(ip)


def _refusal_reason_v4(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _REFUSED_V4:
        if ip in network:
            return reason
    return None if ip.is_global else "not globally routable"


def _refusal_reason_v6(ip: ipaddress.IPv6Address) -> str | None:
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        form, ipv4 = embedded
        inner = _refusal_reason_v4(ipv4)
        return None if inner is None else f"{form} of {ipv4}, which is {inner}"
    if ip in _TEREDO:
        server, client = ip.teredo or (None, None)
        return f"a Teredo tunnel address (server {server}, client {client})"
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # ::/96 minus :: and ::1
        return f"a deprecated IPv4-compatible address (embeds {_low_32_bits(ip)})"
    for network, reason in _REFUSED_V6:
        if ip in network:
            return reason
    if ip not in _GLOBAL_UNICAST_V6:
        return "outside IPv6 global unicast space (2000::/3)"
    return None if ip.is_global else "not globally routable"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 form really reaches, for forms decided by that address."""
    if ip in _IPV4_MAPPED:
        return "the IPv4-mapped form", _low_32_bits(ip)
    if ip in _NAT64:
        return "the NAT64 form", _low_32_bits(ip)
    if ip in _SIX_TO_FOUR and ip.sixtofour is not None:
        return "the 6to4 form", ip.sixtofour
    return None


def _low_32_bits(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _check_address(ip: IPAddress, allowed: Sequence[IPNetwork], host: str) -> None:
    if _is_allowed(ip, allowed):
        return
    reason = _refusal_reason(ip)
    if reason is None:
        return
    subject = str(ip) if host == str(ip) else f"{host!r} ({ip})"
    raise UnsafeURL(f"refused to fetch {subject}: it is {reason}; {_ALLOW_HINT}")


# --- URL host parsing -------------------------------------------------------------------------
#
# httpx keeps hosts such as "2130706433", "0x7f.1" or "127.1" as *names*; the system resolver
# (glibc inet_aton) would then turn them into 127.0.0.1. We parse them ourselves with the WHATWG
# URL standard's IPv4 parser, as browsers do, instead of calling socket.inet_aton: inet_aton's
# behaviour is the C library's (glibc accepts trailing garbage after a space) and it cannot say
# whether a host merely looked numeric. A host ending in a number that is not a valid IPv4
# address (e.g. "1.2.3.4.5", "example.123") is refused as ambiguous.

_DECIMAL: Final = re.compile(r"[0-9]+")
_OCTAL: Final = re.compile(r"0[0-7]+")
_HEXADECIMAL: Final = re.compile(r"0[xX][0-9a-fA-F]*")


def _ends_in_a_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(_DECIMAL.fullmatch(last) or _HEXADECIMAL.fullmatch(last))


def _ipv4_number(part: str) -> int | None:
    # Explicit ASCII patterns: int() alone would accept "1_0", " 7" and non-ASCII digits.
    if _HEXADECIMAL.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCTAL.fullmatch(part):
        return int(part, 8)
    if _DECIMAL.fullmatch(part) and not (len(part) > 1 and part.startswith("0")):
        return int(part)
    return None


def _parse_ipv4_host(host: str) -> ipaddress.IPv4Address:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        raise UnsafeURL(f"refused host {host!r}: it looks like an IPv4 address but is not one")
    values = [number for number in numbers if number is not None]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise UnsafeURL(f"refused host {host!r}: IPv4 address out of range")
    address = last
    for index, value in enumerate(leading):
        address += value * 256 ** (3 - index)
    return ipaddress.IPv4Address(address)


def _target_host(url: httpx.URL) -> str | IPAddress:
    """The host a URL connects to: an IP literal, or a name still to resolve."""
    if url.scheme not in ("http", "https"):
        raise UnsafeURL(f"refused scheme {url.scheme!r}: only http and https are fetched")
    if url.userinfo:
        raise UnsafeURL("refused URL with credentials (user:password@): never sent to a site")
    host = url.raw_host.decode("ascii")
    if not host:
        raise UnsafeURL("refused URL without a host")
    if "%" in host:
        raise UnsafeURL(f"refused host {host!r}: IPv6 zone identifiers are never fetched")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeURL(f"refused host {host!r}: invalid IPv6 address") from exc
    if _ends_in_a_number(host):
        return _parse_ipv4_host(host)
    return host


def _default_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeURL(f"refused URL {url!r}: {exc}") from exc


# --- resolution -------------------------------------------------------------------------------


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in found:
            found.append(ip)
    return found


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """All addresses of ``host``, from the system resolver without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _addresses(infos)


def resolve_host_sync(host: str, port: int) -> list[IPAddress]:
    """All addresses of ``host``, from the system resolver (blocking)."""
    return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def _checked(
    host: str, addresses: Sequence[IPAddress], allowed: Sequence[IPNetwork]
) -> Sequence[IPAddress]:
    if not addresses:
        raise UnsafeURL(f"refused host {host!r}: it resolves to no address")
    # Every address, not only the one we would use: a name must not mix public and internal.
    for ip in addresses:
        _check_address(ip, allowed, host)
    return addresses


def check_url(url: str, allowed: Sequence[IPNetwork] = ()) -> None:
    """Raise UnsafeURL unless ``url`` may be fetched now (input-time validation; blocking DNS)."""
    parsed = _parse_url(url)
    target = _target_host(parsed)
    if not isinstance(target, str):
        _check_address(target, allowed, parsed.raw_host.decode("ascii"))
        return
    try:
        addresses = resolve_host_sync(target, _default_port(parsed))
    except OSError as exc:
        raise UnsafeURL(f"refused host {target!r}: it does not resolve ({exc})") from exc
    _checked(target, addresses, allowed)


async def check_url_async(url: str, allowed: Sequence[IPNetwork] = ()) -> None:
    """``check_url`` for async code (request handlers): resolves without blocking the loop."""
    parsed = _parse_url(url)
    target = _target_host(parsed)
    if not isinstance(target, str):
        _check_address(target, allowed, parsed.raw_host.decode("ascii"))
        return
    try:
        addresses = await resolve_host(target, _default_port(parsed))
    except OSError as exc:
        raise UnsafeURL(f"refused host {target!r}: it does not resolve ({exc})") from exc
    _checked(target, addresses, allowed)


# --- transport --------------------------------------------------------------------------------


class _CheckedConnectBackend(httpcore.AsyncNetworkBackend):
    """Opens each connection to an address that was resolved once and checked.

    httpcore calls ``connect_tcp`` with the URL's host for every *new* connection; the
    connection pool stays keyed by host name, so TLS SNI, certificate verification and the
    ``Host`` header remain those of the name, and a pooled TLS connection is never reused for
    another name that happens to share the IP.
    """

    def __init__(self, allowed: Sequence[IPNetwork], resolver: AsyncResolver | None) -> None:
        self._allowed = tuple(allowed)
        self._resolver = resolver
        self._sockets = httpcore.AnyIOBackend()

    async def _checked_addresses(
        self, host: str, port: int, resolve_timeout: float | None
    ) -> Sequence[IPAddress]:
        literal = _literal_or_none(host)
        if literal is not None:
            _check_address(literal, self._allowed, host)
            return [literal]
        # Looked up at call time so that tests may replace the module's resolver.
        resolve = self._resolver if self._resolver is not None else resolve_host
        try:
            addresses = await asyncio.wait_for(resolve(host, port), resolve_timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        return _checked(host, addresses, self._allowed)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked_addresses(host, port, timeout)
        failure: httpcore.ConnectError | None = None
        for ip in addresses:
            try:
                return await self._sockets.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the next checked address
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeURL("refused: unix sockets are never used for user-supplied URLs")

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)


def _literal_or_none(host: str) -> IPAddress | None:
    if ":" in host:
        return ipaddress.IPv6Address(host)
    return _parse_ipv4_host(host) if _ends_in_a_number(host) else None


class SafeTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncHTTPTransport`` that only ever connects to checked public addresses."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork] = (),
        *,
        verify: ssl.SSLContext | bool = True,
        resolver: AsyncResolver | None = None,
    ) -> None:
        self._allowed = tuple(allowed)
        # trust_env=False: no proxy, netrc or SSL_CERT_* from the environment for these URLs.
        self._inner = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, retries=0)
        pool = self._inner._pool
        # httpx has no public hook for httpcore's network backend; fail loudly if that changes
        # rather than silently connecting wherever the system resolver points.
        if type(pool) is not httpcore.AsyncConnectionPool or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx internals changed: cannot pin connections to checked IPs")
        pool._network_backend = _CheckedConnectBackend(self._allowed, resolver)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # URL-level refusals (scheme, credentials, IP literals) before any socket work; name
        # resolution and its checks happen when the pool opens a connection.
        target = _target_host(request.url)
        if not isinstance(target, str):
            _check_address(target, self._allowed, request.url.raw_host.decode("ascii"))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def safe_async_client(
    *,
    allow_private: Sequence[str] = (),
    timeout: float = 10.0,
    max_redirects: int = 5,
    user_agent: str = DEFAULT_USER_AGENT,
) -> httpx.AsyncClient:
    """An AsyncClient for user-supplied URLs: checked addresses, redirects re-checked per hop."""
    if timeout <= 0:
        raise ValueError("timeout must be positive: outbound requests always have one")
    return httpx.AsyncClient(
        transport=SafeTransport(allowed_networks(allow_private)),
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=max_redirects,
        headers={"User-Agent": user_agent},
        trust_env=False,
    )
