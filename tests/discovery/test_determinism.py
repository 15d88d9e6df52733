"""The same job, run several times against the same local websites over real HTTP, gives the
same results; a site that could not be read is a counted failure with its reason, never an
empty result (issue 16 item 7).

The sites mimic the report: one profile link in each footer, in the many forms a profile URL
takes (tracking parameters, legacy and mobile hosts, wrappers, intents, share dialogs and
YouTube's own pages, which are no profiles). Twelve of them live on one host (one request at
a time, a quarter of a second each), so most wait for their turn far longer than a deadline;
others hang, answer 503, refuse connections, hide their only chance behind a contact page that
hangs, send a decompression bomb, forbid crawling, or are slow on the first request of a run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from socialcrm.discovery.jobs import COLUMNS
from socialcrm.discovery.settings import get_discovery_settings
from tests.discovery.sites import Handler, serve_site
from tests.discovery.test_decompression import serve_bomb

RUNS = 3
# (footer link, the column it fills and the canonical URL, or None when it is no profile)
LINKS: list[tuple[str, tuple[str, str] | None]] = [
    (
        "https://www.facebook.com/acmebakery?ref=footer",
        ("social_facebook", "https://www.facebook.com/acmebakery"),
    ),
    (
        "https://instagram.com/acme.studio/",
        ("social_instagram", "https://www.instagram.com/acme.studio"),
    ),
    (
        "https://www.linkedin.com/company/acme-robotics/about/",
        ("social_linkedin", "https://www.linkedin.com/company/acme-robotics"),
    ),
    ("https://twitter.com/#!/acmeco", ("social_twitter", "https://x.com/acmeco")),
    (
        "https://www.youtube.com/@acmechannel/videos",
        ("social_youtube", "https://www.youtube.com/@acmechannel"),
    ),
    (
        "https://www.tiktok.com/@acme.shop?lang=en",
        ("social_tiktok", "https://www.tiktok.com/@acme.shop"),
    ),
    (
        "http://m.facebook.com/pages/Acme-Diner/123456789",
        ("social_facebook", "https://www.facebook.com/profile.php?id=123456789"),
    ),
    (
        "https://www.youtube.com/channel/UC1234567890abcdefghijkl",
        ("social_youtube", "https://www.youtube.com/channel/UC1234567890abcdefghijkl"),
    ),
    (
        "https://youtube.com/user/acmevideos",
        ("social_youtube", "https://www.youtube.com/user/acmevideos"),
    ),
    ("https://www.youtube.com/trending", None),
    ("https://www.youtube.com/music", None),
    (
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.instagram.com%2Facmewrapped",
        ("social_instagram", "https://www.instagram.com/acmewrapped"),
    ),
    (
        "https://x.com/intent/follow?screen_name=acmefollow",
        ("social_twitter", "https://x.com/acmefollow"),
    ),
    (
        "https://www.pinterest.com/acmepins/",
        ("social_pinterest", "https://www.pinterest.com/acmepins"),
    ),
    ("https://github.com/acme-org", ("social_github", "https://github.com/acme-org")),
    (
        "https://bsky.app/profile/acme.bsky.social",
        ("social_bluesky", "https://bsky.app/profile/acme.bsky.social"),
    ),
    (
        "https://www.threads.net/@acmethreads",
        ("social_threads", "https://www.threads.com/@acmethreads"),
    ),
    ("https://mastodon.social/@acmetoot", ("social_mastodon", "https://mastodon.social/@acmetoot")),
    ("https://twitter.com/share?url=https%3A%2F%2Facme.example", None),
    ("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Facme.example", None),
]
SHARED = 12  # the first twelve live on one host


def _footer(link: str) -> str:
    return f'<html><body><main>Welcome</main><footer><a href="{link}">Follow</a></footer></body>'


class Farm:
    """Every site of the job and what each must give."""

    def __init__(self, stack: ExitStack) -> None:
        self.items: list[dict[str, Any]] = []
        self.expected: list[tuple[str, str] | None] = []
        self.failures: dict[int, str] = {}
        self.first_requests: list[int] = []
        shared = stack.enter_context(serve_site())
        for i, (link, expected) in enumerate(LINKS):
            if i < SHARED:
                shared.slow(f"/s{i}/", 0.25, _footer(link))
                self._add(f"{shared.url}/s{i}/", expected)
            else:
                own = stack.enter_context(serve_site())
                own.page("/", _footer(link))
                self._add(own.url, expected)
        self._failing(stack)

    def _add(self, url: str, expected: tuple[str, str] | None, failure: str = "") -> None:
        if failure:
            self.failures[len(self.items)] = failure
        self.items.append({"name": f"Site {len(self.items)}", "site_web": url})
        self.expected.append(expected)

    def _failing(self, stack: ExitStack) -> None:
        hangs = stack.enter_context(serve_site())
        hangs.slow("/", 3.0)
        self._add(hangs.url, None, "timeout")
        busy = stack.enter_context(serve_site())
        busy.page("/", "<html>busy</html>", status=503)
        self._add(busy.url, None, "http_503")
        with serve_site() as closed:
            self._add(closed.url, None, "connect_error")  # nobody listens there any more
        contact = stack.enter_context(serve_site())
        contact.page("/", '<html><body><nav><a href="/contact">Contact</a></nav></body></html>')
        contact.slow("/contact", 3.0, _footer("https://www.instagram.com/hiddenco"))
        self._add(contact.url, None, "timeout")
        bomb = stack.enter_context(serve_site())
        serve_bomb(bomb, "/", "gzip", 31)
        self._add(bomb.url, None, "decompression_bomb")
        private = stack.enter_context(serve_site())
        private.page("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
        private.page("/", _footer("https://www.instagram.com/privateco"))
        self._add(private.url, None, "robots_disallowed")
        flaky = stack.enter_context(serve_site())
        flaky.routes["/"] = self._slow_first_request
        self._add(flaky.url, ("social_instagram", "https://www.instagram.com/flakyco"))

    def _slow_first_request(self, handler: Handler) -> None:
        """Slow on the first request of each run (a moment of load), quick after."""
        self.first_requests.append(1)
        if len(self.first_requests) == 1:
            time.sleep(2.0)
        body = _footer("https://www.instagram.com/flakyco").encode()
        handler.reply(200, body, {"Content-Type": "text/html"})


@pytest.fixture
def farm() -> Iterator[Farm]:
    with ExitStack() as stack:
        yield Farm(stack)


@pytest.mark.usefixtures("allow_loopback", "fast_crawl")
def test_the_same_job_gives_the_same_results_and_counts_every_failure(
    api: TestClient, farm: Farm
) -> None:
    settings = get_discovery_settings()
    settings.timeout_s, settings.per_host = 0.5, 1  # a whole answer within 1 s
    outputs = []
    for _ in range(RUNS):
        farm.first_requests.clear()
        created = api.post("/api/jobs/socials", json={"items": farm.items})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        state = api.get(f"/api/jobs/{job_id}").json()
        rows = api.get(f"/api/jobs/{job_id}/results").json()
        found = [{c: row[c] for c in COLUMNS.values() if row[c]} for row in rows]
        failed = {f["position"]: f["reason"] for f in state["failures"]["items"]}
        outputs.append((found, failed, state["failed_count"], state["found_count"]))
        assert state["status"] == "completed"
    assert outputs == [outputs[0]] * RUNS  # the same input, the same output
    found, failed, failed_count, found_count = outputs[0]
    assert failed == farm.failures  # each site not read is a counted failure with its reason
    assert failed_count == len(farm.failures)
    assert found == [dict([want]) if want else {} for want in farm.expected]
    assert found_count == sum(1 for want in farm.expected if want)
