"""A publish whose answer is lost (an error or a timeout after the network made the post) is
found on the network before anything is sent again: one post, adopted, never two."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient

from socialcrm.core.db import Database, utcnow
from socialcrm.core.settings import get_settings
from socialcrm.providers.base import PostData
from socialcrm.publishing import reconcile
from tests.publishing.conftest import fault, run_due, sandbox_posts
from tests.publishing.test_publishing import compose

pytestmark = pytest.mark.usefixtures("sandbox")


@pytest.fixture
def short_timeout() -> Iterator[None]:
    """Provider calls give up after 0.5 s, so a 1.5 s late answer is a lost one."""
    settings = get_settings()
    previous = settings.provider_timeout_s
    settings.provider_timeout_s = 0.5
    try:
        yield
    finally:
        settings.provider_timeout_s = previous


def target_of(api: TestClient, post_id: int) -> dict[str, object]:
    targets = api.get(f"/api/publishing/posts/{post_id}").json()["targets"]
    assert len(targets) == 1
    return targets[0]  # type: ignore[no-any-return]


def retry_later(database: Database) -> list[str]:
    with time_machine.travel(utcnow() + timedelta(seconds=31), tick=True):
        return run_due(database)


def test_an_x_post_whose_answer_was_a_5xx_is_adopted_not_refused_as_duplicate(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    """Before: the retry was sent again, X refused it as duplicate content, and the target
    was marked failed although the post was live."""
    fault(sandbox, network="x", endpoint="publish", status=503, after=True)
    post = compose(api, [brand["x"]], "Launch day", action="now").json()
    first = target_of(api, post["id"])
    assert first["status"] == "scheduled" and "checked for the post" in str(first["error"])
    live = sandbox_posts(sandbox, "x")
    assert [p["text"] for p in live] == ["Launch day"]  # the network did make it

    assert retry_later(database) == ["published"]
    target = target_of(api, post["id"])
    assert (target["status"], target["external_id"]) == ("published", live[0]["id"])
    assert target["url"] == f"https://x.com/ada/status/{live[0]['id']}"
    assert [p["text"] for p in sandbox_posts(sandbox, "x")] == ["Launch day"]


@pytest.mark.usefixtures("short_timeout")
def test_a_mastodon_post_whose_answer_timed_out_is_not_posted_twice(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    """Before: Mastodon accepts a repeat, so the retry made a second post."""
    fault(sandbox, network="mastodon", endpoint="publish", status=200, latency_ms=1500, after=True)
    post = compose(api, [brand["mastodon"]], "Hello https://example.com/a", action="now").json()
    assert target_of(api, post["id"])["status"] == "scheduled"
    assert retry_later(database) == ["published"]
    shown = sandbox_posts(sandbox, "mastodon")
    assert len(shown) == 1
    assert target_of(api, post["id"])["external_id"] == shown[0]["id"]


def test_a_retry_that_finds_nothing_publishes(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    """A 5xx before the network made anything: the check finds nothing and the post goes."""
    fault(sandbox, network="bluesky", endpoint="publish", status=503)
    post = compose(api, [brand["bluesky"]], "Second time lucky", action="now").json()
    assert target_of(api, post["id"])["status"] == "scheduled"
    assert sandbox_posts(sandbox, "bluesky") == []
    assert retry_later(database) == ["published"]
    assert [p["text"] for p in sandbox_posts(sandbox, "bluesky")] == ["Second time lucky"]


# --- the matching rules (pure) ---------------------------------------------------------------

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def shown(post_id: str, text: str, minutes: int = 1, reply_to: str | None = None) -> PostData:
    return PostData(
        network="x",
        id=post_id,
        author_user_id="1",
        author_handle="ada",
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        in_reply_to_id=reply_to,
    )


@pytest.mark.parametrize(
    ("posts", "text", "taken", "expected"),
    [
        ([shown("1", "Launch day")], "Launch day", (), "1"),
        # X shows links as t.co, Mastodon renders HTML: compared without links, case, spaces.
        ([shown("1", "Read  https://t.co/x1 NOW")], "Read https://crm/r/abc now", (), "1"),
        ([shown("1", "@grace@social.example Hi!")], "Hi!", (), "1"),
        # An exact match wins over a comparable one; the oldest of equals wins.
        ([shown("1", "launch day"), shown("2", "Launch day")], "Launch day", (), "2"),
        ([shown("2", "Hi", 5), shown("1", "Hi", 2)], "Hi", (), "1"),
        # Older than the first attempt (beyond the clock skew): someone else's, not ours.
        ([shown("1", "Launch day", -10)], "Launch day", (), None),
        ([shown("1", "Launch day", -1)], "Launch day", (), "1"),
        # Already another target's post; a reply is not a post.
        ([shown("1", "Launch day")], "Launch day", ("1",), None),
        ([shown("1", "Launch day", reply_to="9")], "Launch day", (), None),
        ([shown("1", "Other text")], "Launch day", (), None),
        ([shown("1", "https://t.co/zz")], "https://example.com/only-a-link", (), None),
    ],
)
def test_which_post_is_ours(
    posts: list[PostData], text: str, taken: tuple[str, ...], expected: str | None
) -> None:
    found = reconcile.find_published(posts, text, since=T0, taken=taken)
    assert (found.id if found else None) == expected
