"""X as the real network behaves (X API v2 docs and X's own error answers), through the
product: 30-second authorization codes, and self-serve apps' reply restriction."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient

from socialcrm.core.db import utcnow
from tests.connections.flow import callback, consent, register_app, start
from tests.publishing.conftest import connect_brand

pytestmark = pytest.mark.usefixtures("sandbox")


def test_an_x_code_older_than_30_seconds_is_a_clear_refusal(api: TestClient) -> None:
    """X's codes live 30 s (the sandbox allowed 60): a slow round trip must say to start
    again rather than fail obscurely or store anything."""
    register_app(api, "x")
    params = consent(start(api), "ada")
    with time_machine.travel(utcnow() + timedelta(seconds=31), tick=False):
        late = callback(api, "x", params)
    assert late.status_code == 400
    error = late.json()["error"]
    assert error["code"] == "oauth_error"
    assert "invalid_grant" in error["message"] or "expired" in error["message"]
    assert api.get("/api/connections").json()["items"] == []


def test_a_fresh_code_still_connects(api: TestClient) -> None:
    register_app(api, "x")
    params = consent(start(api), "ada")
    with time_machine.travel(utcnow() + timedelta(seconds=20), tick=False):
        response = callback(api, "x", params)
    assert response.status_code == 303, response.text


def post_as(sandbox: object, author: str, text: str) -> str:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={"network": "x", "author_handle": author, "text": text},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def test_replying_where_the_author_did_not_mention_us_is_refused_clearly(
    api: TestClient, sandbox: object
) -> None:
    """Self-serve API tiers may reply only where the author mentioned or quoted the account:
    the message says that, and is not a generic failure nor retried."""
    brand = int(connect_brand(api, "x")["id"])
    unrelated = post_as(sandbox, "grace", "Printers are on fire everywhere today")
    response = api.post(
        "/api/engage/messages",
        json={
            "kind": "reply",
            "account_id": brand,
            "text": "Try ours!",
            "in_reply_to_id": unrelated,
        },
        headers={"Idempotency-Key": "cold-reply-0001"},
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["status"] == "failed"
    assert "only to posts whose author mentioned or quoted this account" in message["error"]
    mention = post_as(sandbox, "grace", "@ada my printer is on fire")
    answered = api.post(
        "/api/engage/messages",
        json={"kind": "reply", "account_id": brand, "text": "On it!", "in_reply_to_id": mention},
        headers={"Idempotency-Key": "warm-reply-0001"},
    )
    assert answered.json()["status"] == "sent"
