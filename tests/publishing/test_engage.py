"""Replies, comments and DMs from the CRM: delivery status, Activities, idempotency, checks,
and a Ticket's first response."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.engage.models import MessageKind, OutboundMessage
from socialcrm.listening.models import SocialMention
from tests.conftest import make_api_key, make_tenant
from tests.connections.flow import connect
from tests.publishing.conftest import connect_brand, fault, sandbox_posts

pytestmark = pytest.mark.usefixtures("sandbox")


@pytest.fixture
def x_brand(api: TestClient) -> int:
    return int(connect_brand(api, "x")["id"])


def network_post(sandbox: object, network: str, author: str, text: str) -> str:
    response = httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={"network": network, "author_handle": author, "text": text},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def dms(sandbox: object) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox.url}/_sandbox/dms").json()  # type: ignore[attr-defined,no-any-return]


def send(api: TestClient, key: str, **body: Any) -> httpx.Response:
    return api.post("/api/engage/messages", json=body, headers={"Idempotency-Key": key})


def test_a_reply_is_sent_and_logged_on_the_contact(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    contact = api.post("/api/contacts", json={"name": "Grace Hopper"}).json()
    mention = network_post(sandbox, "x", "grace", "@ada your printer is on fire")
    response = send(
        api,
        "click-0001",
        kind="reply",
        account_id=x_brand,
        text="We're on it, Grace!",
        in_reply_to_id=mention,
        contact_id=contact["id"],
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["status"] == "sent"
    assert message["url"] == f"https://x.com/ada/status/{message['external_id']}"
    replies = sandbox_posts(sandbox, "x")
    assert [(r["text"], r["in_reply_to_id"]) for r in replies] == [("We're on it, Grace!", mention)]
    activity = api.get(f"/api/activities/{message['activity_id']}").json()
    assert activity["kind"] == "social_reply"
    assert activity["contact_id"] == contact["id"]
    assert activity["subject"].endswith("· sent")
    thread = api.get(
        "/api/engage/threads", params={"network": "x", "conversation_id": mention}
    ).json()
    assert [(t["direction"], t["status"]) for t in thread if t["direction"] == "outbound"] == [
        ("outbound", "sent")
    ]
    listed = api.get("/api/engage/messages", params={"contact_id": contact["id"]}).json()
    assert [m["id"] for m in listed] == [message["id"]]


def test_a_double_click_never_sends_twice(
    api: TestClient, x_brand: int, sandbox: object, database: Database
) -> None:
    mention = network_post(sandbox, "x", "grace", "@ada hello?")
    body = {"kind": "reply", "account_id": x_brand, "text": "Hi!", "in_reply_to_id": mention}
    first = send(api, "double-click-1", **body)
    second = send(api, "double-click-1", **body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(sandbox_posts(sandbox, "x")) == 1
    again = body | {"text": "Hi again!"}  # X refuses a repeat of the same text
    assert send(api, "double-click-2", **again).status_code == 201  # a new click, a new key
    assert len(sandbox_posts(sandbox, "x")) == 2
    # The guarantee is the database's, not only the code path's.
    with pytest.raises(IntegrityError), database.session(system=True) as session:
        existing = session.get(OutboundMessage, first.json()["id"])
        assert existing is not None
        session.add(
            OutboundMessage(
                tenant_id=existing.tenant_id,
                idempotency_key="double-click-1",
                kind=MessageKind.REPLY,
                social_account_id=x_brand,
                network="x",
                text="again",
            )
        )
        session.flush()


def test_a_dm_by_handle_is_delivered_once(api: TestClient, x_brand: int, sandbox: object) -> None:
    response = send(
        api, "dm-000001", kind="dm", account_id=x_brand, text="Can we talk?", recipient="grace"
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["status"] == "sent" and message["external_id"]
    assert [(d["recipient_handle"], d["text"]) for d in dms(sandbox)] == [("grace", "Can we talk?")]


def test_limits_and_permissions_are_checked_before_sending(
    api: TestClient, app_client: TestClient, x_brand: int, sandbox: object, database: Database
) -> None:
    mastodon = int(connect_brand(api, "mastodon")["id"])
    too_long = send(
        api, "long-00001", kind="dm", account_id=mastodon, text="a" * 501, recipient="grace"
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["details"]["limit"] == 500
    weighted = send(
        api, "long-00002", kind="reply", account_id=x_brand, text="日" * 141, in_reply_to_id="1"
    )
    assert weighted.json()["error"]["details"]["used"] == 282
    empty = send(api, "empty-0001", kind="dm", account_id=x_brand, text="  ", recipient="grace")
    assert empty.status_code == 400
    no_key = api.post(
        "/api/engage/messages",
        json={"kind": "dm", "account_id": x_brand, "text": "hi", "recipient": "grace"},
    )
    assert no_key.status_code == 400
    assert dms(sandbox) == []
    # A personal account belongs to the user who connected it; this key acts for no user.
    personal = connect(api, "x", "grace")
    not_mine = send(
        api, "personal-01", kind="dm", account_id=personal["id"], text="hi", recipient="ada"
    )
    assert not_mine.status_code == 403
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    stolen = app_client.post(
        "/api/engage/messages",
        json={"kind": "dm", "account_id": x_brand, "text": "hi", "recipient": "grace"},
        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "stolen-0001"},
    )
    assert stolen.status_code == 403
    with database.session(system=True) as session:
        agent = make_api_key(session, tenant=make_tenant(session), role=Role.AGENT)
    as_agent = app_client.post(
        "/api/engage/messages",
        json={"kind": "dm", "account_id": x_brand, "text": "hi from support", "recipient": "grace"},
        headers={"Authorization": f"Bearer {agent}", "Idempotency-Key": "agent-0001"},
    )
    assert as_agent.status_code == 201  # support agents may answer from brand accounts


def test_a_refused_message_is_failed_with_the_networks_reason(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    mention = network_post(sandbox, "x", "grace", "@ada hi")
    fault(sandbox, network="x", endpoint="reply", status=403, count=1)
    response = send(
        api, "refused-001", kind="reply", account_id=x_brand, text="Hello", in_reply_to_id=mention
    )
    assert response.status_code == 201
    message = response.json()
    assert message["status"] == "failed"
    assert "refused" in message["error"]
    activity = api.get(f"/api/activities/{message['activity_id']}").json()
    assert activity["subject"].endswith("· failed")
    assert "not delivered" in activity["body"]


def test_a_reply_from_a_ticket_is_its_first_response(
    api: TestClient, x_brand: int, sandbox: object
) -> None:
    ticket = api.post("/api/tickets", json={"subject": "Printer on fire"}).json()
    before = api.get(f"/api/engage/tickets/{ticket['id']}/first-response").json()
    assert before["responded_at"] is None
    mention = network_post(sandbox, "x", "grace", "@ada help")
    first = send(
        api,
        "ticket-0001",
        kind="reply",
        account_id=x_brand,
        text="Looking now",
        in_reply_to_id=mention,
        ticket_id=ticket["id"],
    ).json()
    send(
        api,
        "ticket-0002",
        kind="reply",
        account_id=x_brand,
        text="Fixed",
        in_reply_to_id=mention,
        ticket_id=ticket["id"],
    )
    after = api.get(f"/api/engage/tickets/{ticket['id']}/first-response").json()
    assert after["message_id"] == first["id"]
    assert after["responded_at"] is not None


def test_answering_a_ticketed_mention_stops_its_sla_clock_once(
    api: TestClient, x_brand: int, sandbox: object, database: Database
) -> None:
    """A reply typed against the post (as on a Contact's page: no ticket or mention id) is a
    reply to the stored mention, so it is its Ticket's first response; a DM counts too."""
    from tests.listening.factories import ingest, make_rule, post
    from tests.listening.test_api import tenant_id

    tenant = tenant_id(database)
    make_rule(database, tenant, query="help", support=True)
    post_id = network_post(sandbox, "x", "grace", "@ada help please")
    stored = ingest(database, tenant, post("@ada help please", external_id=post_id, author="grace"))
    with database.session(tenant_id=tenant) as session:
        mention = session.get(SocialMention, stored.mention_ids[0])
        assert mention is not None and mention.ticket_id is not None
        ticket_id = mention.ticket_id
    assert api.get(f"/api/tickets/{ticket_id}").json()["first_responded_at"] is None

    reply = send(
        api, "sla-reply-1", kind="reply", account_id=x_brand, text="On it", in_reply_to_id=post_id
    ).json()
    assert (reply["status"], reply["ticket_id"]) == ("sent", ticket_id)
    answered = api.get(f"/api/tickets/{ticket_id}").json()
    assert answered["first_responded_at"] is not None and answered["sla_breached"] is False
    send(api, "sla-reply-2", kind="reply", account_id=x_brand, text="Done", in_reply_to_id=post_id)
    again = api.get(f"/api/tickets/{ticket_id}").json()
    assert again["first_responded_at"] == answered["first_responded_at"]  # later replies: no
    first = api.get(f"/api/engage/tickets/{ticket_id}/first-response").json()
    assert first["message_id"] == reply["id"]

    by_dm = api.post("/api/tickets", json={"subject": "Asked by DM"}).json()
    dm = send(
        api,
        "sla-dm-0001",
        kind="dm",
        account_id=x_brand,
        text="Hi",
        recipient="grace",
        ticket_id=by_dm["id"],
    ).json()
    assert dm["status"] == "sent"
    assert api.get(f"/api/tickets/{by_dm['id']}").json()["first_responded_at"] is not None
