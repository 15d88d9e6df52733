"""The Admin's IMAP mailboxes in real headless Chromium, against a real dovecot (SQLite, or
PostgreSQL when configured): a mailbox is added from the form, a sync refused by the server
shows why with Retry, and a sync's imported and unreadable messages appear, all without a
reload while the worker runs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from socialcrm.core.principal import Role
from socialcrm.core.queue import huey
from socialcrm.signatures.imap import ImapError, sync_account
from socialcrm.signatures.models import ImapAccount
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS, committed_database
from tests.live import live_app
from tests.signatures.dovecot import PASSWORD, USER, ImapServer
from tests.signatures.mail import SIGNED, message

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("loopback_allowed")]
LOGIN = "correct horse battery"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with committed_database(tmp_path, "mailboxes_browser") as (db, _url):
        with db.session(system=True) as session:
            tenant = get_or_create_tenant(session, "Mail Co")
            create_user(
                session, tenant=tenant, email="ada@mail.test", password=LOGIN, role=Role.ADMIN
            )
            tenant_id = tenant.id
        huey.immediate = False  # the test is the worker: the page sees each sync happen
        try:
            with live_app() as base:
                yield {"base": base, "db": db, "tenant": tenant_id}
        finally:
            huey.flush()
            huey.immediate = True


def _add_mailbox(page: Any, imap_server: ImapServer, password: str, folder: str) -> None:
    page.get_by_label("IMAP server").fill("localhost")
    page.get_by_label("Port").fill(str(imap_server.ssl_port))
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Folder").fill(folder)
    page.get_by_role("button", name="Add mailbox").click()


def _worker_sync(site: dict[str, Any], imap_server: ImapServer, folder: str) -> None:
    """What the queued sync does, on another thread (Playwright owns this one)."""
    with site["db"].session(tenant_id=site["tenant"]) as session:
        account_id = session.scalars(
            select(ImapAccount.id).where(ImapAccount.mailbox == folder)
        ).one()

    def run() -> None:
        with contextlib.suppress(ImapError):  # recorded on the mailbox, as the task does
            sync_account(site["db"], account_id, ssl_context=imap_server.context())

    with ThreadPoolExecutor(1) as worker:
        worker.submit(run).result()


def test_mailbox_syncs_show_live_with_why_they_failed(
    chromium: Path, site: dict[str, Any], imap_server: ImapServer
) -> None:
    from playwright.sync_api import expect, sync_playwright

    folder = f"live-{uuid.uuid4().hex[:8]}"
    imap_server.append_all(
        [
            message(body=SIGNED, message_id=f"<{folder}-1@imap>"),
            f"{folder}: just some words, no header at all\r\n".encode(),
        ],
        mailbox=folder,
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{site['base']}/admin/email")
        page.get_by_label("Email").fill("ada@mail.test")
        page.get_by_label("Password").fill(LOGIN)
        page.get_by_role("button", name="Log in").click()

        # A wrong password: the server refuses the sync, and the page says so, live.
        _add_mailbox(page, imap_server, "wrong-password", "INBOX")
        expect(page.get_by_role("status")).to_contain_text("Mailbox added")
        row = page.locator("tr", has_text="INBOX")
        expect(row).to_contain_text("not yet")
        page.evaluate("window.sameDocument = true")
        _worker_sync(site, imap_server, "INBOX")
        expect(row.locator(".notice.error")).to_contain_text("The last sync failed")
        expect(row).to_contain_text("refused the login")
        retry = row.get_by_role("button", name=f"Retry the sync of {USER}")
        expect(retry).to_be_visible()
        assert page.evaluate("window.sameDocument") is True
        retry.click()
        expect(page.get_by_role("status")).to_contain_text("Sync started")

        # The right password: what was imported, and what could not be read and why.
        _add_mailbox(page, imap_server, PASSWORD, folder)
        good = page.locator("tr", has_text=folder)
        expect(good).to_contain_text("not yet")
        page.evaluate("window.sameDocument = true")
        _worker_sync(site, imap_server, folder)
        expect(good).to_contain_text("1 imported")
        expect(good).to_contain_text("1 could not be read")
        expect(good).to_contain_text("not an RFC 822 message")
        expect(good.locator(".notice.error")).to_have_count(0)
        expect(good.get_by_role("button", name=f"Sync now {USER}")).to_be_visible()
        assert page.evaluate("window.sameDocument") is True
        browser.close()


def test_imported_mail_appears_on_the_open_emails_list(
    chromium: Path, site: dict[str, Any]
) -> None:
    """What ``socialcrm emails import`` or a sync stores shows up while the list is open,
    unreadable messages with why."""
    from playwright.sync_api import expect, sync_playwright

    from socialcrm.signatures import intake

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{site['base']}/emails")
        page.get_by_label("Email").fill("ada@mail.test")
        page.get_by_label("Password").fill(LOGIN)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("No emails yet")).to_be_visible()
        page.evaluate("window.sameDocument = true")

        def import_two() -> None:
            with site["db"].session(tenant_id=site["tenant"]) as session:
                raw = message(subject="Quarterly numbers", body=SIGNED)
                intake.ingest(session, site["tenant"], raw, source="import")
                intake.record_failed(
                    session, b"no header at all", "not an RFC 822 message", source="import"
                )

        with ThreadPoolExecutor(1) as importer:
            importer.submit(import_two).result()
        expect(page.get_by_role("link", name="Quarterly numbers")).to_be_visible()
        expect(page.locator(".failed-email")).to_contain_text("not an RFC 822 message")
        assert page.evaluate("window.sameDocument") is True
        browser.close()
