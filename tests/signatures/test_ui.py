"""The email pages as a person sees them (server-rendered HTML, real login and CSRF)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.signatures import intake, policy
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login

PASSWORD = "correct horse battery staple"


@pytest.fixture
def tenant_id(database: Database) -> int:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        for email, role in (("ada@acme.test", Role.ADMIN), ("sam@acme.test", Role.AGENT)):
            create_user(session, tenant=tenant, email=email, password=PASSWORD, role=role)
        return tenant.id


@pytest.fixture
def admin(app_client: TestClient, tenant_id: int) -> TestClient:
    return ui_login(app_client, "ada@acme.test", PASSWORD)


def test_a_failed_mailbox_message_shows_why_on_the_emails_page(
    admin: TestClient, database: Database, tenant_id: int
) -> None:
    with database.session(tenant_id=tenant_id) as session:
        failed = intake.record_failed(
            session,
            b"Subject: Invoice 7\r\nnot quite a message\r\n",
            "not an RFC 822 message: no From, Date, Subject or Message-ID header",
            source="imap",
            imap_uid=17,
        )
        email_id = failed.id
    page = admin.get("/emails").text
    assert "Invoice 7" in page
    assert "Not readable (mailbox UID 17): not an RFC 822 message" in page
    detail = admin.get(f"/emails/{email_id}").text
    assert "This message could not be read (mailbox UID 17)" in detail


def test_an_admin_turns_email_mining_off_and_on_in_the_email_settings(
    admin: TestClient, app_client: TestClient, database: Database, tenant_id: int
) -> None:
    assert admin.get("/emails/settings", follow_redirects=False).headers["location"] == (
        "/admin/email"
    )
    page = admin.get("/admin/email")
    assert page.status_code == 200
    assert re.search(r'name="mining_enabled" id="f-mining_enabled"\s+checked', page.text)
    form = {"csrf": csrf_of(page.text), "default_region": "DE", "default_phone_type": "business"}
    saved = admin.post("/admin/email", data=form, follow_redirects=False)  # box unticked
    assert saved.status_code == 303
    with database.session(tenant_id=tenant_id) as session:
        settings = policy.get_settings(session, tenant_id)
    assert (settings.mining_enabled, settings.default_region) == (False, "DE")
    emails = admin.get("/emails").text
    assert "Email enrichment is off" in emails
    bad = admin.post("/admin/email", data={**form, "default_region": "XX"})
    assert bad.status_code == 400 and "phone region" in bad.text

    admin.post("/admin/email", data={**form, "mining_enabled": "on"})
    assert "Email enrichment is off" not in admin.get("/emails").text
    assert re.search(
        r'name="mining_enabled" id="f-mining_enabled"\s+checked', admin.get("/admin/email").text
    )

    admin.post("/logout", data={"csrf": csrf_of(admin.get("/emails").text)})
    agent = ui_login(app_client, "sam@acme.test", PASSWORD)
    assert agent.get("/admin/email").status_code == 403
    assert "Email settings" not in agent.get("/emails").text
