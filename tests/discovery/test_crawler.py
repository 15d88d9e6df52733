"""Crawler behaviour against real local HTTP servers on ephemeral ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.discovery.crawler import (
    Crawler,
    SiteRequest,
    SiteResult,
    decode_html,
    site_url,
)
from socialcrm.discovery.settings import DiscoverySettings
from tests.discovery.sites import Site, serve_site

PAGES = Path(__file__).parent / "pages"
BAKERY = (PAGES / "bakery_wordpress_footer.html").read_text()
LOOPBACK = ["127.0.0.0/8"]


def settings(**changes: object) -> DiscoverySettings:
    return DiscoverySettings(**{"host_delay_s": 0.0, "timeout_s": 2.0, **changes})


def crawl(
    url: str, name: str = "", allow: list[str] | None = None, **changes: object
) -> SiteResult:
    async def run() -> SiteResult:
        allowed = LOOPBACK if allow is None else allow
        async with Crawler(settings(**changes), allow_private=allowed) as crawler:
            return await crawler.discover(SiteRequest(1, url, name))

    return asyncio.run(run())


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


def test_profiles_of_the_homepage(site: Site) -> None:
    site.page("/", BAKERY)
    result = crawl(site.url + "/", "Rosewood Bakery")
    assert result.failure is None
    assert result.profiles == {
        "instagram": "https://www.instagram.com/rosewoodbakerypdx",
        "facebook": "https://www.facebook.com/rosewoodbakerypdx",
    }
    assert result.pages == 1


def test_an_honest_user_agent_and_robots_txt_first(site: Site) -> None:
    site.page("/", BAKERY)
    crawl(site.url + "/")
    assert [path for path, _ in site.seen] == ["/robots.txt", "/"]
    assert all(agent.startswith("socialcrm-discovery/") for _, agent in site.seen)


def test_robots_txt_is_honoured_and_can_be_switched_off(site: Site) -> None:
    site.page("/robots.txt", "User-agent: socialcrm\nDisallow: /\n", content_type="text/plain")
    site.page("/", BAKERY)
    result = crawl(site.url + "/")
    assert result.failure == "robots_disallowed"
    assert [path for path, _ in site.seen] == ["/robots.txt"]
    assert crawl(site.url + "/", robots=False).profiles


def test_robots_txt_answering_500_means_disallow_for_now(site: Site) -> None:
    site.page("/robots.txt", "oops", status=500)
    site.page("/", BAKERY)
    assert crawl(site.url + "/").failure == "robots_unavailable"


def test_internal_pages_are_followed_when_the_homepage_has_nothing(site: Site) -> None:
    site.page(
        "/",
        '<html><body><a href="/blog">Blog</a><a href="/about">About</a>'
        '<a href="/contact">Contact</a></body></html>',
    )
    site.page("/contact", BAKERY)
    result = crawl(site.url + "/", "Rosewood Bakery")
    assert result.profiles["facebook"] == "https://www.facebook.com/rosewoodbakerypdx"
    assert result.pages == 2
    assert "/blog" not in [path for path, _ in site.seen]


def test_redirects_are_followed_and_capped(site: Site) -> None:
    site.redirect("/", "/home", 301)
    site.redirect("/home", "/final")
    site.page("/final", BAKERY)
    result = crawl(site.url + "/")
    assert result.profiles and result.final_url == site.url + "/final"
    site.redirect("/loop", "/loop")
    assert crawl(site.url + "/loop").failure == "too_many_redirects"
    assert crawl(site.url + "/", max_redirects=1).failure == "too_many_redirects"


def test_a_redirect_to_a_private_address_is_refused(site: Site) -> None:
    """Every hop is re-checked: an allowed start cannot bounce into another internal host."""
    with serve_site(host="127.0.0.2") as internal:
        internal.page("/", BAKERY)
        site.redirect("/", internal.url + "/")
        result = crawl(site.url + "/", allow=["127.0.0.1/32"])
        assert result.failure == "refused", result
        assert "127.0.0.2" in result.detail
        assert internal.seen == []
        assert crawl(site.url + "/", allow=["127.0.0.1/32", "127.0.0.2/32"]).profiles


def test_http_errors_are_per_site_failures(site: Site) -> None:
    site.page("/gone", "<html>gone</html>", status=410)
    site.page("/boom", "<html>boom</html>", status=500)
    assert crawl(site.url + "/missing").failure == "http_404"
    assert crawl(site.url + "/gone").failure == "http_410"
    assert crawl(site.url + "/boom").failure == "http_500"


def test_a_503_is_tried_once_more(site: Site) -> None:
    calls: list[int] = []

    def flaky(handler: object) -> None:
        calls.append(1)
        status = 503 if len(calls) == 1 else 200
        handler.reply(status, BAKERY.encode(), {"Content-Type": "text/html"})  # type: ignore[attr-defined]

    site.routes["/"] = flaky
    assert crawl(site.url + "/").profiles
    assert len(calls) == 2


def test_slow_sites_time_out(site: Site) -> None:
    site.slow("/", 3.0)
    result = crawl(site.url + "/", timeout_s=0.5)
    assert result.failure == "timeout"


def test_non_html_is_not_parsed(site: Site) -> None:
    site.page("/", b"%PDF-1.7 ...", content_type="application/pdf")
    assert crawl(site.url + "/").failure == "not_html"
    site.page("/img", b"\x89PNG\r\n", content_type="image/png")
    assert crawl(site.url + "/img").failure == "not_html"


def test_huge_pages_are_cut_at_the_byte_cap(site: Site) -> None:
    head = BAKERY.split("<main", 1)[
        0
    ].encode()  # the header carries no profile; the cap hides the rest
    site.huge("/", head, 50_000_000)
    result = crawl(site.url + "/", max_bytes=100_000, timeout_s=5.0)
    assert result.failure is None
    assert result.profiles == {}


def test_charsets_from_header_meta_or_guess(site: Site) -> None:
    latin = (PAGES / "legacy_hashbang_mobile.html").read_text().replace("Copyright", "Copyright ©é")
    site.page("/", latin.encode("cp1252"), content_type="text/html")  # meta says iso-8859-1
    result = crawl(site.url + "/", "Kettle Creek Outfitters")
    assert result.profiles["x"] == "https://x.com/kettlecreekfly"
    french = "<p>Le café du marché propose une crème brûlée élaborée à la française.</p>" * 5
    assert decode_html(french.encode("cp1252"), "text/html; charset=bogus-9") == french
    meta = '<meta charset="windows-1252"><p>Ça coûte 5 €</p>'
    assert decode_html(meta.encode("cp1252"), "text/html; charset=bogus-9") == meta
    assert decode_html("<p>Café</p>".encode("utf-16"), "text/html") == "<p>Café</p>"
    assert (
        decode_html("<p>Café</p>".encode("cp1252"), "text/html; charset=windows-1252")
        == "<p>Café</p>"
    )
    assert (
        decode_html("<p>Déjà vu, café crème</p>".encode(), "text/html")
        == "<p>Déjà vu, café crème</p>"
    )


def test_unreachable_hosts_fail_cleanly() -> None:
    with serve_site() as gone:
        url = gone.url + "/"
    result = crawl(url)  # the server is closed: connection refused
    assert result.failure == "connect_error"


def test_loopback_is_refused_unless_allowed(site: Site) -> None:
    site.page("/", BAKERY)
    result = crawl(site.url + "/", allow=[])
    assert result.failure == "refused"
    assert "loopback" in result.detail
    assert site.seen == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Example.COM", ("https://example.com/", False)),
        ("example.com/about", ("https://example.com/about", True)),
        ("  http://example.com/x#top ", ("http://example.com/x", False)),
        ("café.fr", ("https://xn--caf-dma.fr/", True)),
        ("example.com:8080", ("https://example.com:8080/", True)),
        ("", None),
        ("not a url", None),
        ("mailto:a@b.c", None),
        ("ftp://example.com", None),
        ("https://user:pw@example.com/", None),
        ("localhost", None),
        (42, None),
        (None, None),
        ("https://example.com:99999/", None),
    ],
)
def test_site_web_values(value: object, expected: tuple[str, bool] | None) -> None:
    assert site_url(value) == expected


def test_many_sites_with_a_global_limit(site: Site) -> None:
    site.page("/", BAKERY)
    results: list[SiteResult] = []

    async def run() -> None:
        async with Crawler(settings(concurrency=3), allow_private=LOOPBACK) as crawler:
            requests = [SiteRequest(i, site.url + "/", "Rosewood Bakery") for i in range(8)]
            results.extend(await crawler.discover_many(requests))

    asyncio.run(run())
    assert sorted(r.key for r in results) == list(range(8))
    assert all(r.profiles for r in results)
    # robots.txt once for the host, however many requests
    assert [p for p, _ in site.seen].count("/robots.txt") == 1


# --- the same sites, the same result (issue 16 item 7) ----------------------------------------


def _footer_page(handle: str) -> str:
    return (
        "<html><body><main>Welcome</main><footer>"
        f'<a href="https://www.instagram.com/{handle}">Instagram</a></footer></body></html>'
    )


def _many(requests: list[SiteRequest], **changes: object) -> list[SiteResult]:
    async def run() -> list[SiteResult]:
        async with Crawler(settings(**changes), allow_private=LOOPBACK) as crawler:
            return await crawler.discover_many(requests)

    return asyncio.run(run())


def test_waiting_for_a_turn_at_a_busy_host_does_not_count_against_the_deadline(
    site: Site,
) -> None:
    """Eight sites on one host, one request at a time, 0.3 s each: the last one waits 2 s for
    its turn, far past a 1 s deadline that would have counted the queue."""
    for i in range(8):
        site.slow(f"/s{i}/", 0.3, _footer_page(f"shop{i}"))
    requests = [SiteRequest(i, f"{site.url}/s{i}/") for i in range(8)]
    results = _many(requests, timeout_s=0.5, per_host=1)
    assert [r.failure for r in results] == [None] * 8
    assert [r.profiles["instagram"] for r in results] == [
        f"https://www.instagram.com/shop{i}" for i in range(8)
    ]


def test_an_internal_page_that_was_not_read_is_a_failure_not_an_empty_result(
    site: Site,
) -> None:
    site.page("/", '<html><body><a href="/contact">Contact</a><a href="/about">About</a></body>')
    site.slow("/contact", 3.0)
    result = crawl(site.url + "/", timeout_s=0.5)
    assert result.failure == "timeout"
    assert "/contact" in result.detail
    assert result.profiles == {}
    site.page("/contact", "<html>nothing here</html>", status=404)  # an answer: no failure
    site.page("/about", BAKERY)
    found = crawl(site.url + "/", timeout_s=0.5)
    assert found.failure is None
    assert found.profiles["facebook"] == "https://www.facebook.com/rosewoodbakerypdx"


def test_a_site_that_failed_for_a_passing_reason_is_tried_again_after_the_others(
    site: Site,
) -> None:
    first: list[int] = []

    def slow_once(handler: object) -> None:
        first.append(1)
        if len(first) == 1:
            time.sleep(2.0)
        body = _footer_page("flakyshop").encode()
        handler.reply(200, body, {"Content-Type": "text/html"})  # type: ignore[attr-defined]

    site.routes["/flaky/"] = slow_once
    site.page("/steady/", _footer_page("steadyshop"))
    seen: list[SiteResult] = []

    async def run() -> list[SiteResult]:
        async with Crawler(settings(timeout_s=0.5), allow_private=LOOPBACK) as crawler:
            requests = [SiteRequest(1, site.url + "/flaky/"), SiteRequest(2, site.url + "/steady/")]
            return await crawler.discover_many(requests, seen.append)

    results = asyncio.run(run())
    assert [r.key for r in results] == [1, 2]  # in the order asked, whatever finished first
    assert results[0].failure is None
    assert results[0].profiles == {"instagram": "https://www.instagram.com/flakyshop"}
    assert sorted(r.key for r in seen) == [1, 2]  # each site reported once, with its final result


def test_a_site_given_up_while_robots_txt_loads_does_not_open_its_host(site: Site) -> None:
    site.slow("/robots.txt", 0.6, "User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.page("/", BAKERY)

    async def run() -> SiteResult:
        async with Crawler(settings(), allow_private=LOOPBACK) as crawler:
            first = asyncio.create_task(crawler.discover(SiteRequest(1, site.url + "/")))
            await asyncio.sleep(0.2)
            first.cancel()
            return await crawler.discover(SiteRequest(2, site.url + "/"))

    result = asyncio.run(run())
    assert result.failure == "robots_disallowed"
    assert [path for path, _ in site.seen] == ["/robots.txt"]


def test_a_site_given_up_while_waiting_for_robots_txt_leaves_the_others_their_answer(
    site: Site,
) -> None:
    """A waiter that gives up must not cancel the shared read: the other sites of the origin
    would get no result at all (neither profiles nor a failure)."""
    site.slow("/robots.txt", 0.6, "User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.page("/", BAKERY)

    async def run() -> list[SiteResult]:
        async with Crawler(settings(), allow_private=LOOPBACK) as crawler:
            loader = asyncio.create_task(crawler.discover(SiteRequest(1, site.url + "/")))
            await asyncio.sleep(0.1)
            quitter = asyncio.create_task(crawler.discover(SiteRequest(2, site.url + "/")))
            stayer = asyncio.create_task(crawler.discover(SiteRequest(3, site.url + "/")))
            await asyncio.sleep(0.2)
            quitter.cancel()
            return list(await asyncio.gather(loader, stayer))

    results = asyncio.run(run())
    assert [r.failure for r in results] == ["robots_disallowed", "robots_disallowed"]


def test_the_plain_http_fallback_keeps_the_organisation_name(site: Site) -> None:
    """The link sits in body text: only its likeness to the name makes it the organisation's."""
    site.page(
        "/",
        '<html><body><main><p>Pastries daily. <a href="https://www.instagram.com/acmebakery">'
        "acmebakery</a></p></main></body></html>",
    )
    bare = f"https://127.0.0.1:{site.port}/"  # what site_url makes of "127.0.0.1:port"

    async def run() -> SiteResult:
        async with Crawler(settings(timeout_s=0.5), allow_private=LOOPBACK) as crawler:
            return await crawler.discover(SiteRequest(1, bare, "Acme Bakery", http_fallback=True))

    result = asyncio.run(run())
    assert result.failure is None
    assert result.final_url == site.url + "/"
    assert result.profiles == {"instagram": "https://www.instagram.com/acmebakery"}
