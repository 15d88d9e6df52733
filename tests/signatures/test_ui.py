"""The email pages as a person sees them (server-rendered HTML, real login and CSRF)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.signatures import service
from socialcrm.tenancy.models import Role
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant, ui_login

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
        failed = service.record_failed(
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
