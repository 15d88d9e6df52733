"""Webhooks in (signature and challenge checks, same pipeline) and out (signed, retried)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.core.logging import REDACTED, redact_text
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Lead
from socialcrm.listening import delivery, hooks
from socialcrm.listening.models import SocialLead, SocialMention, WebhookDelivery
from tests.listening.conftest import WebhookReceiver
from tests.listening.test_api import tenant_id

X_EVENT = {
    "for_user_id": "1001",
    "tweet_create_events": [
        {
            "id_str": "880001",
            "text": "@ada my order is broken, refund please",
            "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "lang": "en",
            "user": {"id_str": "4242", "screen_name": "hal", "name": "Hal"},
            "coordinates": {"type": "Point", "coordinates": [-0.1278, 51.5074]},
            "place": {"country_code": "GB"},
        },
        {"id_str": "880002", "text": "my own tweet", "user": {"id_str": "1001"}},
    ],
    "direct_message_events": [
        {
            "type": "message_create",
            "id": "dm1",
            "created_timestamp": "1700000000000",
            "message_create": {
                "sender_id": "5151",
                "message_data": {"text": "Do you ship to Oslo?"},
            },
        }
    ],
    "users": {"5151": {"screen_name": "ola", "name": "Ola N"}},
}


def endpoint(api: TestClient, style: str, network: str = "x") -> dict[str, Any]:
    answer = api.post("/api/listening/webhook-endpoints", json={"style": style, "network": network})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["secret"] and body["url"].startswith("http://testserver/hooks/listening/")
    return body


def path(ep: dict[str, Any]) -> str:
    return str(ep["url"]).removeprefix("http://testserver")


def test_x_crc_challenge(api: TestClient) -> None:
    ep = endpoint(api, "x")
    answer = api.get(path(ep), params={"crc_token": "challenge-123"})
    expected = hooks.x_crc_response(ep["secret"], "challenge-123")
    assert answer.status_code == 200 and answer.json() == {"response_token": expected}
    assert api.get(path(ep)).status_code == 400
    assert api.get("/hooks/listening/not-a-token", params={"crc_token": "c"}).status_code == 404
    listed = api.get("/api/listening/webhook-endpoints").json()
    assert listed[0]["secret"] is None  # shown once, never again


def test_x_events_verified_and_ingested(api: TestClient, database: Database) -> None:
    ep = endpoint(api, "x")
    api.post(
        "/api/listening/rules",
        json={
            "name": "geo",
            "query": "refund",
            "geo": {"lat": 51.5, "lon": -0.1, "radius_km": 10},
            "countries": ["GB"],
            "support": True,
        },
    )
    body = json.dumps(X_EVENT).encode()
    unsigned = api.post(path(ep), content=body)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "unauthenticated"
    forged = api.post(
        path(ep),
        content=body,
        headers={"x-twitter-webhooks-signature": hooks.x_signature("wrong-secret", body)},
    )
    assert forged.status_code == 401
    tampered = api.post(
        path(ep),
        content=body.replace(b"refund", b"refunds"),
        headers={"x-twitter-webhooks-signature": hooks.x_signature(ep["secret"], body)},
    )
    assert tampered.status_code == 401
    signed = {"x-twitter-webhooks-signature": hooks.x_signature(ep["secret"], body)}
    answer = api.post(path(ep), content=body, headers=signed)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 2, "stored": 2, "duplicates": 0}  # own tweet skipped
    replay = api.post(path(ep), content=body, headers=signed)
    assert replay.json()["duplicates"] == 2
    with database.session(tenant_id=tenant_id(database)) as session:
        tweet = session.scalars(
            select(SocialMention).where(SocialMention.external_id == "880001")
        ).one()
        assert (tweet.country, tweet.lat, tweet.ticket_id is not None) == ("GB", 51.5074, True)
        dm = session.scalars(select(SocialMention).where(SocialMention.kind == "dm")).one()
        lead = session.get(Lead, dm.lead_id)  # an inbound DM from a stranger is a lead
        assert lead is not None and lead.name == "Ola N" and lead.source.startswith("social:x")


def test_meta_lead_ads(api: TestClient, database: Database) -> None:
    ep = endpoint(api, "meta", network="facebook")
    wrong = api.get(
        path(ep), params={"hub.mode": "subscribe", "hub.verify_token": "no", "hub.challenge": "42"}
    )
    assert wrong.status_code == 401
    ok = api.get(
        path(ep),
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": ep["verify_token"],
            "hub.challenge": "42",
        },
    )
    assert ok.status_code == 200 and ok.text == "42"
    payload = {
        "object": "page",
        "entry": [
            {
                "changes": [
                    {
                        "field": "leadgen",
                        "value": {
                            "leadgen_id": "L1",
                            "form_id": "F9",
                            "created_time": 1700000000,
                            "user_id": "fb-77",
                            "field_data": [
                                {"name": "full_name", "values": ["Pat Lee"]},
                                {"name": "email", "values": ["pat@example.com"]},
                            ],
                        },
                    }
                ]
            }
        ],
    }
    body = json.dumps(payload).encode()
    bad = api.post(path(ep), content=body, headers={"X-Hub-Signature-256": "sha256=00"})
    assert bad.status_code == 401
    sig = {"X-Hub-Signature-256": hooks.meta_signature(ep["secret"], body)}
    assert api.post(path(ep), content=body, headers=sig).status_code == 200
    assert (
        api.post(
            path(ep),
            content=b"[1]",
            headers={"X-Hub-Signature-256": hooks.meta_signature(ep["secret"], b"[1]")},
        ).status_code
        == 400
    )
    with database.session(tenant_id=tenant_id(database)) as session:
        social = session.scalars(select(SocialLead)).one()
        lead = session.get(Lead, social.lead_id)
        assert lead is not None and lead.name == "Pat Lee"
        assert (social.form_id, social.author_user_id) == ("F9", "fb-77")


def test_outbound_webhooks_signed_and_retried_with_backoff(
    api: TestClient, database: Database, receiver: str
) -> None:
    sub = api.post(
        "/api/listening/webhook-subscriptions", json={"url": receiver, "events": ["ticket.created"]}
    )
    assert sub.status_code == 201, sub.text
    secret = sub.json()["secret"]
    WebhookReceiver.answers = [503]  # the first attempt fails
    api.post("/api/listening/rules", json={"name": "s", "query": "broken", "support": True})
    from tests.listening.factories import ingest, post

    tenant = tenant_id(database)
    ingest(database, tenant, post("it is broken"))
    assert len(WebhookReceiver.seen) == 1  # sent after commit (the test queue runs tasks at once)
    with database.session(tenant_id=tenant) as session:
        row = session.scalars(select(WebhookDelivery)).one()
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
        assert row.next_attempt_at is not None
        delivery_id, retry_at = row.id, row.next_attempt_at
    assert delivery.deliver(database, tenant, delivery_id) is None  # not before its time
    assert len(WebhookReceiver.seen) == 1
    with time_machine.travel(retry_at + timedelta(seconds=1), tick=True):
        assert delivery.deliver(database, tenant, delivery_id) is None  # the retry succeeds
    headers, body = WebhookReceiver.seen[-1]
    stamp = headers["X-SocialCRM-Timestamp"]
    expected = (
        "sha256="
        + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    assert headers["X-SocialCRM-Signature"] == expected
    assert json.loads(body)["event"] == "ticket.created"
    with database.session(tenant_id=tenant) as session:
        done = session.get(WebhookDelivery, delivery_id)
        assert done is not None and (done.status, done.attempts) == ("delivered", 2)
    assert delivery.deliver(database, tenant, delivery_id) is None  # delivered: not resent
    assert len(WebhookReceiver.seen) == 2


def test_backoff_grows_and_is_capped() -> None:
    delays = [delivery.backoff(n).total_seconds() for n in range(1, 12)]
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == delivery.MAX_DELAY_S


def test_outbound_refuses_private_addresses(api: TestClient, database: Database) -> None:
    """Refused when the subscription is made, with the guard's reason."""
    for url in ("http://127.0.0.1:9/x", "http://[::1]/x", "http://10.1.2.3/x", "http://0x7f.1/x"):
        answer = api.post(
            "/api/listening/webhook-subscriptions", json={"url": url, "events": ["*"]}
        )
        assert answer.status_code == 400, (url, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error" and "cannot be used" in error["message"]
    assert api.get("/api/listening/webhook-subscriptions").json() == []


def test_a_delivery_the_guard_refuses_fails_at_once_with_its_reason(
    api: TestClient, database: Database, receiver: str
) -> None:
    """An address allowed when subscribed and refused at send time (the operator narrowed
    SOCIALCRM_ALLOW_PRIVATE_FETCH, or the name now points inside): failed, never retried."""
    sub = api.post("/api/listening/webhook-subscriptions", json={"url": receiver, "events": ["*"]})
    assert sub.status_code == 201, sub.text
    get_settings().allow_private_fetch = []  # the receiver fixture restores it
    api.post("/api/listening/rules", json={"name": "s", "query": "broken", "support": True})
    from tests.listening.factories import ingest, post

    tenant = tenant_id(database)
    ingest(database, tenant, post("broken"))
    with database.session(tenant_id=tenant) as session:
        rows = list(session.scalars(select(WebhookDelivery)))
    assert rows and {r.status for r in rows} == {"failed"}
    assert all(r.last_error.startswith("refused by the SSRF guard") for r in rows)
    assert all("loopback" in r.last_error for r in rows)
    assert {(r.attempts, r.next_attempt_at) for r in rows} == {(1, None)}
    assert WebhookReceiver.seen == []


def test_the_x_challenge_never_signs_an_event(api: TestClient, database: Database) -> None:
    """X signs POST bodies with the same HMAC as the CRC answer: a crc_token that is an event
    would be answered with that event's valid signature. Only X's base64 tokens are answered."""
    ep = endpoint(api, "x")
    forged = json.dumps(X_EVENT)
    answer = api.get(path(ep), params={"crc_token": forged})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
    assert "response_token" not in answer.text and forged not in answer.text
    for bad in ("short", "a" * 129, "abc def ghi", "abcdefgh\x00", "{abcdefgh}", "ab%cd&ef"):
        assert api.get(path(ep), params={"crc_token": bad}).status_code == 400, bad
    # A real-looking token is answered, and that answer signs nothing we would accept.
    token = "NjM3MTM1NTg3NzY1MzYxMTYy-_+/="
    signed = api.get(path(ep), params={"crc_token": token}).json()["response_token"]
    replayed = api.post(
        path(ep), content=token.encode(), headers={"x-twitter-webhooks-signature": signed}
    )
    assert replayed.status_code == 400
    with database.session(tenant_id=tenant_id(database)) as session:
        assert session.scalars(select(SocialMention)).all() == []


def test_webhook_tokens_stay_out_of_access_logs() -> None:
    line = (
        '127.0.0.1:5000 - "GET /hooks/listening/Zm9vYmFyMTIz?crc_token=NjM3MTM1NTg3NzY1 '
        'HTTP/1.1" 200'
    )
    assert redact_text(line) == (
        f'127.0.0.1:5000 - "GET /hooks/listening/{REDACTED}?crc_token={REDACTED} HTTP/1.1" 200'
    )
    meta = "GET /hooks/listening/tok?hub.mode=subscribe&hub.verify_token=vt123&hub.challenge=9"
    assert redact_text(meta) == (
        f"GET /hooks/listening/{REDACTED}?hub.mode=subscribe&hub.verify_token={REDACTED}"
        "&hub.challenge=9"
    )


@given(st.from_regex(hooks.CRC_TOKEN, fullmatch=True))
def test_no_answerable_challenge_is_an_event_body(token: str) -> None:
    """Whatever X-style token we sign, the same bytes are never a body the receiver takes."""
    try:
        parsed = json.loads(token)
    except ValueError:
        return
    assert not isinstance(parsed, dict)


def test_the_challenge_function_refuses_to_sign_what_x_never_sends() -> None:
    with pytest.raises(hooks.InvalidChallenge):
        hooks.x_crc_response("secret", '{"tweet_create_events":[]}')
