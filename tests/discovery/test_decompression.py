"""Decompression bombs against the crawler: a real local server sends 1 MB of gzip or deflate
that inflates to 1 GiB; the site is a counted failure and memory stays bounded (issue 21
item 6). Honest compressed pages keep working, and past the cap they are cut as before."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from socialcrm.discovery.crawler import Crawler, SiteRequest, SiteResult
from socialcrm.discovery.settings import DiscoverySettings
from tests.discovery.sites import Handler, Site, serve_site

PAGES = Path(__file__).parent / "pages"
BAKERY = (PAGES / "bakery_wordpress_footer.html").read_text()
GIB = 1 << 30
BLOCK = 1 << 20


@cache
def bomb_parts(wbits: int) -> tuple[bytes, bytes, bytes]:
    """(start, repeated part, end) of a stream that inflates to 1 GiB of spaces: each 1 MiB
    block is full-flushed, so one compressed block may be sent again and again."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b" " * BLOCK
    start = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start, again, compressor.flush()


def serve_bomb(site: Site, path: str, encoding: str, wbits: int) -> None:
    start, again, end = bomb_parts(wbits)

    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Encoding", encoding)
        handler.send_header("Content-Length", str(len(start) + len(again) * 1023 + len(end)))
        handler.end_headers()
        try:
            handler.wfile.write(start)
            for _ in range(1023):
                handler.wfile.write(again)
            handler.wfile.write(end)
        except (BrokenPipeError, ConnectionResetError):
            pass

    site.routes[path] = route


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


def crawl(url: str, **changes: object) -> SiteResult:
    options = {"host_delay_s": 0.0, "timeout_s": 5.0, **changes}

    async def run() -> SiteResult:
        async with Crawler(DiscoverySettings(**options), allow_private=["127.0.0.0/8"]) as c:
            return await c.discover(SiteRequest(1, url, "Rosewood Bakery"))

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [("gzip", 16 + zlib.MAX_WBITS), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS)],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_a_decompression_bomb_is_a_counted_failure_in_bounded_memory(
    site: Site, encoding: str, wbits: int
) -> None:
    start, again, end = bomb_parts(wbits)
    assert len(start) + 1023 * len(again) + len(end) < 1.1 * BLOCK  # ~1 MB on the wire
    serve_bomb(site, "/", encoding, wbits)
    tracemalloc.start()
    try:
        result = crawl(site.url + "/")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.failure == "decompression_bomb", result
    assert "inflate past 2,000,000 bytes" in result.detail
    assert peak < 16 * BLOCK, f"peak {peak / BLOCK:.0f} MiB while reading a bomb"


def test_an_encoding_the_crawler_did_not_ask_for_is_refused(site: Site) -> None:
    def route(handler: Handler) -> None:
        handler.reply(200, b"\x1b\x00\x00\x00 not really brotli", {"Content-Encoding": "br"})

    site.routes["/"] = route
    result = crawl(site.url + "/")
    assert result.failure == "unsupported_encoding"
    assert "'br'" in result.detail


def test_honest_compressed_pages_are_read_and_cut_at_the_cap(site: Site) -> None:
    for path, encoding, body in [
        ("/gz", "gzip", gzip.compress(BAKERY.encode())),
        ("/zl", "deflate", zlib.compress(BAKERY.encode())),
    ]:

        def route(handler: Handler, body: bytes = body, encoding: str = encoding) -> None:
            headers = {"Content-Type": "text/html", "Content-Encoding": encoding}
            handler.reply(200, body, headers)

        site.routes[path] = route
        found = crawl(site.url + path)
        assert found.failure is None
        assert found.profiles["facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
    # A long page compressed about 5:1 is no bomb: cut at the cap like a plain one.
    head = BAKERY.split("<main", 1)[0]
    words = " ".join(f"w{i}x{i * 7919 % 10007}" for i in range(200_000))
    long_page = gzip.compress((head + f"<main><p>{words}</p></main>").encode())

    def long_route(handler: Handler) -> None:
        headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
        handler.reply(200, long_page, headers)

    site.routes["/long"] = long_route
    cut = crawl(site.url + "/long", max_bytes=100_000)
    assert cut.failure is None and cut.profiles == {}
