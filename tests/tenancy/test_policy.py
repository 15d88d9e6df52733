"""Operator controls of a tenant: ``/api/admin/tenant-policy`` and ``socialcrm tenant …``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.discovery.jobs import reset_rate_limits
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user
from tests.conftest import make_api_key, make_tenant, ui_login

POLICY = "/api/admin/tenant-policy"
# Refused at once by the SSRF guard: a job is created without anything to crawl.
NOWHERE = {"site_web": "https://127.0.0.1:9/"}


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    reset_rate_limits()
    yield
    reset_rate_limits()


def _error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


def _policy(database: Database, name: str = "Tenant A") -> Tenant:
    with database.session(system=True) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.name == name)).one()
        session.expunge(tenant)
        return tenant


def test_an_admin_reads_and_changes_the_controls_and_the_jobs_api_applies_them(
    api: TestClient, database: Database
) -> None:
    assert api.get(POLICY).json() == {
        "tenant_id": _policy(database).id,
        "tenant": "Tenant A",
        "active": True,
        "ef_ceiling": None,
        "job_rate_limit": None,
    }
    changed = api.put(POLICY, json={"ef_ceiling": 0.002, "job_rate_limit": "1/minute"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["ef_ceiling"], changed.json()["job_rate_limit"]) == (0.002, "1/minute")
    assert _policy(database).policy == {"ef_ceiling": 0.002, "job_rate_limit": "1/minute"}

    too_big = api.post("/api/jobs/socials", json={"items": [NOWHERE] * 5})  # 0.00275 EF
    assert _error(too_big, 400, "quota_exceeded")["details"]["ceiling"] == 0.002
    assert api.post("/api/jobs/socials", json={"items": [NOWHERE]}).status_code == 202
    limited = api.post("/api/jobs/socials", json={"items": [NOWHERE]})
    assert _error(limited, 429, "rate_limited")["details"]["limit"] == "1/minute"

    # Only the fields given change; null gives back the service default.
    assert api.put(POLICY, json={"job_rate_limit": None}).json()["ef_ceiling"] == 0.002
    assert _policy(database).policy == {"ef_ceiling": 0.002}
    with database.session(tenant_id=_policy(database).id) as session:
        entries = session.scalars(
            select(AuditLog).where(AuditLog.action == "tenant.policy_changed")
        ).all()
        assert len(entries) == 2
        assert entries[0].details["after"]["job_rate_limit"] == "1/minute"
        assert entries[0].actor.startswith("api_key:")


@pytest.mark.parametrize(
    "body",
    [
        {"ef_ceiling": -1},
        {"ef_ceiling": 1e12},
        {"ef_ceiling": "lots"},
        {"job_rate_limit": "0/minute"},
        {"job_rate_limit": "5/fortnight"},
        {"job_rate_limit": "10/minute;100/hour"},
        {"job_rate_limit": 10**9},
        {"active": None},
        {"ceiling": 5},
    ],
)
def test_out_of_bounds_values_are_a_400_envelope(
    api: TestClient, database: Database, body: dict[str, Any]
) -> None:
    _error(api.put(POLICY, json=body), 400, "validation_error")
    assert _policy(database).policy == {} and _policy(database).active


def test_a_number_is_a_rate_per_minute(api: TestClient) -> None:
    assert api.put(POLICY, json={"job_rate_limit": 12}).json()["job_rate_limit"] == "12/minute"


def test_only_admins(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        key = make_api_key(session, tenant=make_tenant(session), role=Role.MARKETING)
    headers = {"Authorization": f"Bearer {key}"}
    _error(app_client.get(POLICY, headers=headers), 403, "forbidden")
    _error(app_client.put(POLICY, headers=headers, json={"ef_ceiling": 9}), 403, "forbidden")
    _error(app_client.get(POLICY), 401, "unauthenticated")


def test_a_deactivated_tenants_keys_are_inactive_account(
    api: TestClient, database: Database
) -> None:
    with database.session(system=True) as session:
        other = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    assert api.put(POLICY, json={"active": False}).json()["active"] is False
    _error(api.get("/api/contacts"), 403, "inactive_account")
    _error(api.get(POLICY), 403, "inactive_account")
    # Another tenant is untouched.
    assert api.get("/api/contacts", headers={"Authorization": f"Bearer {other}"}).is_success


def test_the_command_line_sets_deactivates_and_activates(
    api: TestClient, database: Database
) -> None:
    runner = CliRunner()
    assert api.get("/api/contacts").is_success  # the key is now remembered by this process
    done = runner.invoke(
        app, ["tenant", "set", "Tenant A", "--ef-ceiling", "25", "--job-rate-limit", "100/day"]
    )
    assert done.exit_code == 0, done.output
    assert "EF ceiling 25 EF a month, job rate limit 100/day" in done.output
    assert api.get(POLICY).json()["ef_ceiling"] == 25.0

    assert runner.invoke(app, ["tenant", "deactivate", "Tenant A"]).exit_code == 0
    _error(api.get("/api/contacts"), 403, "inactive_account")
    listed = runner.invoke(app, ["tenant", "list"])
    assert "Tenant A\tno\t25.0\t100/day" in listed.output
    assert runner.invoke(app, ["tenant", "activate", "Tenant A"]).exit_code == 0
    assert api.get("/api/contacts").is_success

    cleared = runner.invoke(
        app, ["tenant", "set", "Tenant A", "--ef-ceiling", "none", "--job-rate-limit", "default"]
    )
    assert cleared.exit_code == 0, cleared.output
    assert _policy(database).policy == {}
    bad = runner.invoke(app, ["tenant", "set", "Tenant A", "--ef-ceiling", "-3"])
    assert bad.exit_code == 2 and "--ef-ceiling" in bad.output
    missing = runner.invoke(app, ["tenant", "deactivate", "Tenant Z"])
    assert missing.exit_code == 2 and "no tenant named 'Tenant Z'" in missing.output
    with database.session(tenant_id=_policy(database).id) as session:
        actors = session.scalars(
            select(AuditLog.actor).where(AuditLog.action == "tenant.policy_changed")
        ).all()
    assert actors == ["cli"] * 4


def test_a_deactivated_tenants_ui_sessions_end(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        create_user(
            session,
            tenant=make_tenant(session),
            email="ops@tenant-a.test",
            password="s3cret-passw0rd",
            role=Role.ADMIN,
        )
    ui_login(app_client, "ops@tenant-a.test", "s3cret-passw0rd")
    assert app_client.get("/contacts", follow_redirects=False).status_code == 200
    assert CliRunner().invoke(app, ["tenant", "deactivate", "Tenant A"]).exit_code == 0
    answer = app_client.get("/contacts", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
