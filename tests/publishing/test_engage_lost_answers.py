"""A reply or DM whose send timed out or hit a 5xx is looked up on the network before the
user is told anything: found → sent (adopted), not there → failed (safe to send again),
cannot tell → unconfirmed, and the same key checks again instead of sending again."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.publishing.conftest import connect_brand, fault, sandbox_posts
from tests.publishing.test_engage import dms, network_post, send
from tests.publishing.test_lost_answers import short_timeout

pytestmark = pytest.mark.usefixtures("sandbox")
__all__ = ["short_timeout"]  # a fixture


@pytest.fixture
def x_brand(api: TestClient) -> int:
    return int(connect_brand(api, "x")["id"])


def test_an_x_reply_whose_answer_was_a_5xx_is_sent_once(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    """Before: "x is not answering; try again", and trying again posted a second reply (or
    X refused it as duplicate content)."""
    mention = network_post(sandbox, "x", "grace", "@ada where is my order?")
    fault(sandbox, network="x", endpoint="reply", status=503, after=True)
    answer = send(
        api,
        "lost-reply-1",
        kind="reply",
        account_id=x_brand,
        text="On its way!",
        in_reply_to_id=mention,
    )
    assert answer.status_code == 201, answer.text
    message = answer.json()
    replies = [p for p in sandbox_posts(sandbox, "x") if p["in_reply_to_id"] == mention]
    assert len(replies) == 1
    assert (message["status"], message["external_id"]) == ("sent", replies[0]["id"])
    assert message["url"].endswith(f"/status/{replies[0]['id']}")
    activity = api.get(f"/api/activities/{message['activity_id']}").json()
    assert activity["subject"].endswith("· sent") and activity["body"] == "On its way!"


def test_an_x_dm_whose_answer_was_lost_is_sent_once(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    fault(sandbox, network="x", endpoint="dm", status=500, after=True)
    answer = send(api, "lost-dm-1", kind="dm", account_id=x_brand, text="Ping?", recipient="grace")
    message = answer.json()
    sent = dms(sandbox)
    assert [d["text"] for d in sent] == ["Ping?"]
    assert (message["status"], message["external_id"]) == ("sent", sent[0]["id"])


@pytest.mark.usefixtures("short_timeout")
def test_a_mastodon_reply_that_timed_out_is_adopted(api: TestClient, sandbox: object) -> None:
    mastodon = int(connect_brand(api, "mastodon")["id"])
    mention = network_post(sandbox, "mastodon", "grace", "@ada hello?")
    fault(sandbox, network="mastodon", endpoint="reply", status=200, latency_ms=1500, after=True)
    message = send(
        api, "late-reply-1", kind="reply", account_id=mastodon, text="Hi!", in_reply_to_id=mention
    ).json()
    replies = [p for p in sandbox_posts(sandbox, "mastodon") if p["in_reply_to_id"] == mention]
    assert len(replies) == 1
    assert (message["status"], message["external_id"]) == ("sent", replies[0]["id"])


def test_a_5xx_before_anything_was_sent_fails_and_may_be_sent_again(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    mention = network_post(sandbox, "x", "grace", "@ada anyone?")
    fault(sandbox, network="x", endpoint="reply", status=503)
    body = {"kind": "reply", "account_id": x_brand, "text": "Yes!", "in_reply_to_id": mention}
    message = send(api, "early-5xx-1", **body).json()
    assert message["status"] == "failed"
    assert "does not show it: not sent, try again" in message["error"]
    assert send(api, "early-5xx-2", **body).json()["status"] == "sent"
    assert len([p for p in sandbox_posts(sandbox, "x") if p["in_reply_to_id"] == mention]) == 1


def test_a_dm_the_network_cannot_show_is_unconfirmed_and_never_resent(
    api: TestClient, sandbox: object
) -> None:
    """Mastodon's API cannot list a conversation's direct messages: nobody can tell."""
    mastodon = int(connect_brand(api, "mastodon")["id"])
    fault(sandbox, network="mastodon", endpoint="dm", status=503, after=True)
    body = {"kind": "dm", "account_id": mastodon, "text": "Are you there?", "recipient": "grace"}
    first = send(api, "unsure-dm-1", **body)
    message = first.json()
    assert (first.status_code, message["status"]) == (201, "unconfirmed")
    assert "may have been sent: check on mastodon" in message["error"]
    again = send(api, "unsure-dm-1", **body)  # the same key: checked again, not re-sent
    assert (again.status_code, again.json()["status"]) == (200, "unconfirmed")
    assert again.json()["id"] == message["id"]
    assert len(sandbox_posts(sandbox, "mastodon")) == 1  # a Mastodon DM is a direct status
