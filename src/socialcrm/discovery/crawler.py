"""Fetch organisations' websites politely and safely, and find their social profiles there.

One ``Crawler`` per batch of sites: an SSRF-safe httpx client (``core.http``: every hop's
host resolved, checked and connected to by the checked address), a global limit of sites in
flight, per-host politeness (requests in flight and a delay between two requests to one
host), timeouts and an overall deadline per request, a cap on decoded bytes (decompression
bombs included), a redirect cap, charset detection, robots.txt (RFC 9309) and an honest
User-Agent. A failure of one site is returned as its result, never raised.

The same sites give the same result on every run: a request's deadline starts when the
request gets its turn at its host (never while it waits behind other sites of that host), a
robots.txt is read once per origin whoever waits for it, every page the answer depends on is
either read or makes the site a failure with its reason (never a silent empty result), and a
site that failed for a passing reason (timeout, connection, 5xx) is tried once more after the
others, when the load that may have caused it is gone.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import charset_normalizer
import httpx

from socialcrm.core.http import UnsafeURL, safe_async_client
from socialcrm.discovery.candidates import Candidate, find_candidates
from socialcrm.discovery.extract import choose_profiles
from socialcrm.discovery.failures import FetchFailed, is_passing
from socialcrm.discovery.inflate import ACCEPT_ENCODING, read_body
from socialcrm.discovery.internal_pages import likely_internal_pages
from socialcrm.discovery.settings import DiscoverySettings
from socialcrm.providers import runtime

_HTML_TYPES: Final = ("text/html", "application/xhtml+xml")
_META_CHARSET: Final = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]+)", re.I)
_ROBOTS_TOKEN: Final = "socialcrm"  # noqa: S105 (robots.txt product token, not a secret)
T = TypeVar("T")
_RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
_SITES_PER_POOL: Final = 12


@dataclass(frozen=True, slots=True)
class SiteRequest:
    key: int
    url: str
    name: str = ""
    http_fallback: bool = False  # the user wrote no scheme: try http:// if https:// fails


@dataclass(slots=True)
class SiteResult:
    key: int
    profiles: dict[str, str] = field(default_factory=dict)
    failure: str | None = None
    detail: str = ""
    pages: int = 0
    final_url: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    status: int
    text: str
    truncated: bool


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a crawl from synchronous code on the provider runtime's loop (also from a thread
    whose own event loop is running: the queue's immediate mode inside an async request
    handler). No overall timeout: a crawl keeps its own per-site and per-page deadlines."""
    return runtime.run(coroutine, timeout=None)


# --- input URLs -------------------------------------------------------------------------------

_HOST_OK: Final = re.compile(r"[a-z0-9\-._~]+|[0-9a-f:.]+", re.I)


def site_url(value: object) -> tuple[str, bool] | None:
    """The URL to crawl for a ``site_web`` value and whether it lacked a scheme, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 2000 or any(c.isspace() for c in text):
        return None
    bare = "://" not in text
    if bare:
        if text.startswith("//"):
            text = text[2:]
        if ":" in text.split("/", 1)[0] and not re.match(r"^[^:/]+:\d+(?:/|$)", text):
            return None  # mailto:, javascript: …
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host or parts.username:
        return None
    if not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
        parts = parts._replace(netloc=parts.netloc.lower().replace(host, ascii_host))
        host = ascii_host
    if ("." not in host and ":" not in host) or not _HOST_OK.fullmatch(host):
        return None
    if port is not None and not 0 < port < 65536:
        return None
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, "")), bare


# --- bodies -----------------------------------------------------------------------------------


def decode_html(body: bytes, content_type: str = "") -> str:
    """Text of an HTML body: BOM, then the HTTP charset, then ``<meta charset>``, then a guess."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16")):
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    match = _META_CHARSET.search(body[:4096])
    meta = match.group(1).decode("ascii", "ignore") if match else None
    for declared in (_charset_param(content_type), meta):  # an unknown label is skipped
        codec = _codec(declared) if declared else None
        if codec is not None:
            return body.decode(codec, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:65536]).best()
    codec = _codec(best.encoding) if best is not None else None
    return body.decode(codec or "cp1252", errors="replace")


def _charset_param(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value.strip("\"' "):
            return value.strip("\"' ")
    return None


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    if label in {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"}:
        return "cp1252"  # what browsers do (WHATWG Encoding)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _is_html(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in _HTML_TYPES:
        return True
    if kind and kind not in {"text/plain", "application/octet-stream"}:
        return False
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--"))


# --- politeness -------------------------------------------------------------------------------


class _HostGate:
    def __init__(self, parallel: int, delay: float) -> None:
        self._slots = asyncio.Semaphore(parallel)
        self._delay = delay
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = time.monotonic() + self._delay
            yield


# --- the crawler ------------------------------------------------------------------------------


class Crawler:
    """Discovers profiles of many sites with one pooled, SSRF-safe client."""

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        allow_private: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self._allow_private = tuple(allow_private)
        self._clients: list[httpx.AsyncClient] = []
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, asyncio.Task[RobotFileParser | FetchFailed | None]] = {}

    async def __aenter__(self) -> Crawler:
        # httpcore's pool scans every connection for each request (quadratic in pool size):
        # several small pools, one per group of hosts, keep that scan short.
        for _ in range(max(1, min(16, self.settings.concurrency // _SITES_PER_POOL))):
            client = safe_async_client(
                allow_private=self._allow_private,
                timeout=self.settings.timeout_s,
                max_redirects=self.settings.max_redirects,
                user_agent=self.settings.user_agent,
            )
            client.headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
            client.headers["Accept-Encoding"] = ACCEPT_ENCODING  # only what inflate.py bounds
            self._clients.append(client)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for task in self._robots.values():
            task.cancel()
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    def _client_for(self, url: str) -> httpx.AsyncClient:
        assert self._clients, "use the Crawler as an async context manager"
        # A stable hash: the same host takes the same pool in every process.
        return self._clients[zlib.crc32(_host_key(url).encode()) % len(self._clients)]

    # -- many sites --

    async def discover_many(
        self,
        requests: Iterable[SiteRequest],
        on_result: Callable[[SiteResult], Awaitable[None] | None] | None = None,
    ) -> list[SiteResult]:
        """Every request's result, at most ``concurrency`` sites at once; ``on_result`` sees
        each site once, with its final result. Sites that failed for a passing reason are
        tried once more after all the others."""
        limit = asyncio.Semaphore(self.settings.concurrency)
        results: dict[int, SiteResult] = {}
        again: list[SiteRequest] = []

        async def one(request: SiteRequest, last_try: bool) -> None:
            async with limit:
                result = await self.discover(request)
            if not last_try and result.failure is not None and is_passing(result.failure):
                again.append(request)
                return
            results[request.key] = result
            if on_result is not None:
                outcome = on_result(result)
                if outcome is not None:
                    await outcome

        ordered = list(requests)
        async with asyncio.TaskGroup() as group:
            for request in ordered:
                group.create_task(one(request, last_try=False))
        if again:
            self._forget_failed_robots()
            async with asyncio.TaskGroup() as group:
                for request in sorted(again, key=lambda r: r.key):
                    group.create_task(one(request, last_try=True))
        return [results[request.key] for request in ordered if request.key in results]

    # -- one site --

    async def discover(self, request: SiteRequest) -> SiteResult:
        result = SiteResult(key=request.key)
        try:
            await self._discover(request, result)
        except FetchFailed as exc:
            if request.http_fallback and exc.reason in {"connect_error", "tls_error", "timeout"}:
                plain = SiteRequest(
                    request.key, "http://" + request.url.split("://", 1)[1], request.name
                )
                return await self.discover(plain)
            result.failure, result.detail = exc.reason, exc.detail[:300]
        except Exception as exc:  # one site's surprise never fails the batch
            result.failure, result.detail = "error", f"{type(exc).__name__}"
        return result

    async def _discover(self, request: SiteRequest, result: SiteResult) -> None:
        home = await self.fetch_page(request.url)
        result.pages, result.final_url = 1, home.url
        candidates: list[Candidate] = find_candidates(home.text, home.url)
        chosen = choose_profiles(candidates, request.name, home.url)
        if not chosen and self.settings.extra_pages:
            for url in likely_internal_pages(home.text, home.url, self.settings.extra_pages):
                try:
                    page = await self.fetch_page(url)
                except FetchFailed as exc:
                    if is_passing(exc.reason):  # not read: the answer is unknown, not empty
                        raise FetchFailed(exc.reason, f"{url}: {exc.detail}") from exc
                    continue  # the site answered (404, not HTML, disallowed): nothing there
                result.pages += 1
                candidates.extend(find_candidates(page.text, page.url))
                chosen = choose_profiles(candidates, request.name, home.url)
                if chosen:
                    break
        result.profiles = {network: choice.url for network, choice in chosen.items()}

    # -- pages --

    async def fetch_page(self, url: str) -> Page:
        """One HTML page, after robots.txt allows it; raises FetchFailed."""
        await self._check_robots(url)
        return await self._get_html(url)

    async def _get_html(self, url: str) -> Page:
        attempt = 0
        while True:
            final, status, content_type, body, truncated = await self._get(url)
            if status in _RETRY_STATUSES and attempt == 0:
                attempt += 1
                await asyncio.sleep(0.5)
                continue
            break
        if status >= 400:
            raise FetchFailed(f"http_{status}", f"{final} answered {status}")
        if not _is_html(content_type, body):
            kind = content_type.split(";", 1)[0] or "unknown"
            raise FetchFailed("not_html", f"{final} is {kind}")
        return Page(final, status, decode_html(body, content_type), truncated)

    async def _get(self, url: str) -> tuple[str, int, str, bytes, bool]:
        """Follow redirects ourselves: every hop is checked by the transport and counted."""
        for _hop in range(self.settings.max_redirects + 1):
            async with self._gate(_host_key(url)).turn():
                hop = await self._get_one(url)
            if isinstance(hop, tuple):
                return hop
            if urlsplit(hop).scheme not in {"http", "https"}:
                raise FetchFailed("bad_redirect", f"{url} redirects to a non-web URL")
            url = hop
        raise FetchFailed("too_many_redirects", f"more than {self.settings.max_redirects}")

    async def _get_one(self, url: str) -> tuple[str, int, str, bytes, bool] | str:
        """One request, within its own deadline: the answer, or where it redirects to."""
        deadline = self.settings.timeout_s * 2
        try:
            async with asyncio.timeout(deadline), self._request(url) as response:
                location = response.headers.get("location")
                if response.is_redirect and location:
                    return str(urljoin(url, location.strip()))
                encoding = response.headers.get("content-encoding", "")
                body = await read_body(url, response.aiter_raw(), encoding, self.settings.max_bytes)
                content_type = response.headers.get("content-type", "")
                return url, response.status_code, content_type, body.data, body.truncated
        except TimeoutError as exc:
            raise FetchFailed("timeout", f"{url}: no complete answer within {deadline:g}s") from exc

    @asynccontextmanager
    async def _request(self, url: str) -> AsyncIterator[httpx.Response]:
        try:
            client = self._client_for(url)
            async with client.stream("GET", url, follow_redirects=False) as response:
                yield response
        except UnsafeURL as exc:
            raise FetchFailed("refused", str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise FetchFailed("timeout", type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            raise _connect_failure(exc) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchFailed("too_many_redirects", str(exc)) from exc
        except httpx.InvalidURL as exc:
            raise FetchFailed("invalid_url", str(exc)) from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise FetchFailed("protocol_error", type(exc).__name__) from exc

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(self.settings.per_host, self.settings.host_delay_s)
        return gate

    # -- robots.txt --

    async def _check_robots(self, url: str) -> None:
        if not self.settings.robots:
            return
        origin = _origin(url)
        task = self._robots.get(origin)
        if task is None:  # one read per origin, shared by every page that waits for it
            task = self._robots[origin] = asyncio.create_task(self._load_robots(origin))
        # A waiter that gives up (its site is cancelled) never cancels the others' read.
        rules = await asyncio.shield(task)
        if isinstance(rules, FetchFailed):
            raise rules
        if rules is not None and not rules.can_fetch(_ROBOTS_TOKEN, url):
            raise FetchFailed("robots_disallowed", f"robots.txt of {origin} disallows {url}")

    def _forget_failed_robots(self) -> None:
        """Before a second try: origins whose robots.txt could not be read are read again."""
        for origin, task in list(self._robots.items()):
            if task.done() and not isinstance(_robots_rules(task), RobotFileParser | None):
                del self._robots[origin]

    async def _load_robots(self, origin: str) -> RobotFileParser | FetchFailed | None:
        """RFC 9309: 4xx means no rules, 5xx means disallow everything for now."""
        try:
            final, status, _type, body, _truncated = await self._get(origin + "/robots.txt")
        except FetchFailed as exc:
            if exc.reason in {"bad_redirect", "too_many_redirects"}:
                return None
            return exc  # the host is unreachable: the page will not be reached either
        if 400 <= status < 500:
            return None
        if status >= 500:
            return FetchFailed("robots_unavailable", f"{final} answered {status}")
        parser = RobotFileParser()
        parser.parse(body[:500_000].decode("utf-8", errors="replace").splitlines())
        return parser


def _robots_rules(task: asyncio.Task[RobotFileParser | FetchFailed | None]) -> object:
    """What a finished robots.txt read gave: rules, None, a FetchFailed or its exception."""
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception() or task.result()


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or ''}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _connect_failure(exc: httpx.ConnectError) -> FetchFailed:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, UnsafeURL):
        return FetchFailed("refused", str(cause))
    if "resolve" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return FetchFailed("dns", text[:200])
    if "SSL" in text or "certificate" in text.lower() or isinstance(cause, ssl.SSLError):
        return FetchFailed("tls_error", text[:200])
    return FetchFailed("connect_error", text[:200] or type(exc).__name__)
