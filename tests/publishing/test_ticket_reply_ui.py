"""A support agent answers a social Ticket from its page: the conversation is shown, a bad
reply is refused beside the message box with the text kept, a good one goes out through the
network as a reply to the customer's post and stops the Ticket's SLA clock."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Ticket
from socialcrm.listening.models import SocialMention
from tests.crm.ui_helpers import login, make_user, submit, text_of, value_of
from tests.listening.factories import ingest, make_rule, post
from tests.publishing.conftest import connect_brand, sandbox_posts
from tests.publishing.test_engage import network_post

pytestmark = pytest.mark.usefixtures("sandbox")


def test_an_agent_replies_to_a_ticket_from_its_page(
    api: TestClient, database: Database, sandbox: object
) -> None:
    brand = int(connect_brand(api, "x")["id"])
    tenant, _ = make_user(database, "Tenant A", "sam@support.test", Role.AGENT)
    make_rule(database, tenant, query="help", support=True)
    post_id = network_post(sandbox, "x", "grace", "@ada help, my printer is on fire")
    stored = ingest(
        database,
        tenant,
        post("@ada help, my printer is on fire", external_id=post_id, author="grace"),
    )
    with database.session(tenant_id=tenant) as session:
        mention = session.get(SocialMention, stored.mention_ids[0])
        assert mention is not None and mention.ticket_id is not None
        ticket_id, mention_id = mention.ticket_id, mention.id
    ui = login(api, "sam@support.test")
    page = ui.get(f"/tickets/{ticket_id}").text
    assert "my printer is on fire" in text_of(page, "#conversation")
    assert 'data-sla="due"' in page

    refused = submit(
        ui,
        f"/tickets/{ticket_id}",
        f"/tickets/{ticket_id}/reply",
        {
            "mention_id": mention_id,
            "account_id": brand,
            "text": "x" * 400,
            "idempotency_key": "reply-key-0001",
        },
    )
    assert refused.status_code == 400
    assert "too long for x" in text_of(refused.text, "#err-reply-text")
    assert "x" * 400 in refused.text  # the text typed is still in the box
    assert sandbox_posts(sandbox, "x") == []

    sent = submit(
        ui,
        f"/tickets/{ticket_id}",
        f"/tickets/{ticket_id}/reply",
        {
            "mention_id": mention_id,
            "account_id": brand,
            "text": "On it, Grace!",
            "idempotency_key": "reply-key-0002",
        },
    )
    assert sent.status_code == 303
    assert re.fullmatch(rf"/tickets/{ticket_id}\?reply=\d+#conversation", sent.headers["location"])
    answered = ui.get(sent.headers["location"]).text
    assert "Reply sent" in answered
    assert "On it, Grace!" in text_of(answered, "ol.thread li.outbound")
    assert 'data-sla="responded"' in answered
    replies = sandbox_posts(sandbox, "x")
    assert [(r["text"], r["in_reply_to_id"]) for r in replies] == [("On it, Grace!", post_id)]
    with database.session(tenant_id=tenant) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.first_responded_at is not None
    # The reply box starts over: a fresh key, nothing typed.
    assert value_of(answered, "input[name=idempotency_key]") != "reply-key-0002"


def test_the_contact_pages_reply_box_keeps_a_refused_message_and_no_banner_comes_from_the_address(
    api: TestClient, database: Database, sandbox: object
) -> None:
    brand = int(connect_brand(api, "x")["id"])
    make_user(database, "Tenant A", "sam@support.test", Role.AGENT)
    contact = api.post("/api/contacts", json={"name": "Grace Hopper"}).json()["id"]
    post_id = network_post(sandbox, "x", "grace", "@ada where is my order?")
    ui = login(api, "sam@support.test")
    page = f"/contacts/{contact}"
    assert (
        "Your account is locked"
        not in ui.get(page, params={"engage": "Your account is locked"}).text
    )

    refused = submit(
        ui,
        page,
        f"{page}/engage",
        {
            "kind": "reply",
            "account_id": brand,
            "target": post_id,
            "text": "y" * 300,
            "idempotency_key": "contact-key-0001",
        },
    )
    assert refused.status_code == 400
    assert "Not sent: too long for x" in text_of(refused.text, "#err-engage")
    assert value_of(refused.text, "#engage-target") == post_id
    assert "y" * 300 in refused.text

    sent = submit(
        ui,
        page,
        f"{page}/engage",
        {
            "kind": "reply",
            "account_id": brand,
            "target": post_id,
            "text": "It ships today!",
            "idempotency_key": "contact-key-0002",
        },
    )
    assert re.fullmatch(rf"{page}\?sent=\d+#engage", sent.headers["location"])
    assert "reply sent" in text_of(ui.get(sent.headers["location"]).text, "#engage [role=status]")
