"""Polling connected accounts through the sandbox: cursors, rate limits, revoked accounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.core.queue import huey
from socialcrm.listening import ingestion, tasks
from socialcrm.listening.models import ListeningCursor, SocialMention
from socialcrm.providers.base import RateLimited
from tests.connections.flow import connect, register_app
from tests.listening.test_api import tenant_id


def sandbox_post(sandbox: Any, author: str, text: str, network: str = "x") -> dict[str, Any]:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/posts",
        json={"network": network, "author_handle": author, "text": text},
    )
    answer.raise_for_status()
    return dict(answer.json())


@pytest.fixture
def connected(api: TestClient, sandbox: Any) -> dict[str, Any]:
    register_app(api, "x")
    return connect(api, "x", "ada", scope="brand")


def stored(database: Database) -> list[SocialMention]:
    with database.session(tenant_id=tenant_id(database)) as session:
        rows = list(session.scalars(select(SocialMention).order_by(SocialMention.id)))
        session.expunge_all()
        return rows


def test_poll_ingests_new_mentions_since_the_cursor(
    api: TestClient, database: Database, sandbox: Any, connected: dict[str, Any]
) -> None:
    rule = api.post(
        "/api/listening/rules",
        json={"name": "brand", "brand_account_ids": [connected["id"]], "support": True},
    ).json()
    ingestion.poll_everything(database)
    before = len(stored(database))
    made = sandbox_post(sandbox, "grace", "@ada my widget arrived broken")
    assert ingestion.poll_everything(database) == 1
    rows = stored(database)
    assert len(rows) == before + 1
    newest = rows[-1]
    assert (newest.external_id, newest.author_handle, newest.account_id) == (
        made["id"],
        "grace",
        connected["id"],
    )
    assert newest.rule_ids == [rule["id"]] and newest.ticket_id is not None
    with database.session(tenant_id=tenant_id(database)) as session:
        cursor = session.scalars(select(ListeningCursor)).one()
        assert cursor.cursor == made["id"] and cursor.last_polled_at is not None
    assert ingestion.poll_everything(database) == 0  # nothing new: nothing stored twice


def test_rate_limited_poll_is_rescheduled_not_slept(
    database: Database, sandbox: Any, connected: dict[str, Any]
) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"network": "x", "endpoint": "mentions", "status": 429, "retry_after": 120},
    ).raise_for_status()
    tenant = tenant_id(database)
    huey.flush()
    assert tasks.poll_account_mentions.call_local(tenant, connected["id"]) == 0
    scheduled = [t for t in huey.scheduled() if t.name.endswith("poll_account_mentions")]
    assert len(scheduled) == 1 and scheduled[0].args == (tenant, connected["id"])
    with database.session(tenant_id=tenant) as session:
        cursor = session.scalars(select(ListeningCursor)).one()
        assert cursor.resume_at is not None and cursor.last_error == "rate limited"
        assert scheduled[0].eta is not None
    assert ingestion.accounts_to_poll(database) == []  # paused until the network's reset
    huey.flush()


def test_rate_limit_surfaces_from_the_service(
    database: Database, sandbox: Any, connected: dict[str, Any]
) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"network": "x", "endpoint": "mentions", "status": 429, "retry_after": 60},
    ).raise_for_status()
    with pytest.raises(RateLimited):
        ingestion.poll_account(database, tenant_id(database), connected["id"])


def test_revoked_accounts_are_not_polled(
    api: TestClient, database: Database, sandbox: Any, connected: dict[str, Any]
) -> None:
    assert ingestion.accounts_to_poll(database) == [(tenant_id(database), connected["id"])]
    assert api.delete(f"/api/connections/{connected['id']}").status_code in (200, 202, 204)
    assert ingestion.accounts_to_poll(database) == []
    sandbox_post(sandbox, "grace", "@ada hello?")
    outcome = ingestion.poll_account(database, tenant_id(database), connected["id"])
    assert outcome.status == "skipped" and stored(database) == []


def test_cli_polls_now(database: Database, sandbox: Any, connected: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    from socialcrm.cli import app

    sandbox_post(sandbox, "grace", "@ada from the command line")
    first = CliRunner().invoke(app, ["listening", "poll"])
    assert first.exit_code == 0, first.output
    assert "1 account(s) polled" in first.output
    assert len(stored(database)) >= 1
    again = CliRunner().invoke(app, ["listening", "poll"])
    assert "0 new mention(s) stored" in again.output
