"""End to end on a real server: a sandbox post reaches the SSE stream and the inbox, live."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from socialcrm.core.db import Database, make_engine, set_database
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.listening import ingestion
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_api_key, create_user, get_or_create_tenant
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app


def connect_x(base: str, key: str, sandbox_url: str, handle: str = "ada") -> int:
    http = httpx.Client(timeout=60)  # generous: a busy CI machine is slow, not broken
    auth = {"Authorization": f"Bearer {key}"}
    http.post(
        f"{sandbox_url}/_sandbox/apps",
        json={
            "network": "x",
            "client_id": "live-x",
            "client_secret": "live-x-secret",
            "redirect_uris": [f"{base}/oauth/callback/x"],
        },
    ).raise_for_status()
    http.put(
        f"{base}/api/provider-apps/x",
        headers=auth,
        json={"client_id": "live-x", "client_secret": "live-x-secret"},
    ).raise_for_status()
    start = http.post(
        f"{base}/api/connections", headers=auth, json={"provider": "x", "scope": "brand"}
    )
    start.raise_for_status()
    parts = urlsplit(start.json()["authorization_url"])
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | {
        "account": handle,
        "decision": "allow",
    }
    consent = http.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
    back = urlsplit(consent.headers["location"])
    done = http.get(f"{base}{back.path}?{back.query}", headers={"Accept": "application/json"})
    assert done.status_code == 303, done.text
    return int(done.headers["location"].split("connected=")[1])


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path}/live.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    settings = get_settings()
    previous_base = settings.base_url
    try:
        with live_app() as base:
            settings.base_url = base
            with db.session(system=True) as session:
                tenant = get_or_create_tenant(session, "Live Co")
                create_user(
                    session,
                    tenant=tenant,
                    email="admin@live.test",
                    password="correct horse",
                    role=Role.ADMIN,
                    name="Lee Admin",
                )
                key = create_api_key(session, tenant=tenant, role=Role.ADMIN)[1]
            account = connect_x(base, key, sandbox.url)
            httpx.post(
                f"{base}/api/listening/rules",
                timeout=60,
                headers={"Authorization": f"Bearer {key}"},
                json={"name": "Brand", "brand_account_ids": [account]},
            ).raise_for_status()
            ingestion.poll_everything(db)  # the world's older mentions: not what we watch for
            yield {"base": base, "key": key, "db": db, "sandbox": sandbox.url}
    finally:
        settings.base_url = previous_base
        set_database(None)
        db.engine.dispose()


class Poller:
    """What the worker does, every 0.2 s instead of every minute."""

    def __init__(self, db: Database) -> None:
        self.db, self.stop = db, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            ingestion.poll_everything(self.db)
            self.stop.wait(0.2)

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def test_stream_needs_a_key(site: dict[str, Any]) -> None:
    answer = httpx.get(f"{site['base']}/api/notifications/stream", timeout=60)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"


def test_sandbox_post_reaches_the_stream(site: dict[str, Any]) -> None:
    events: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {site['key']}"}
        with httpx.stream(
            "GET",
            f"{site['base']}/api/notifications/stream?heartbeat=0.2",
            headers=headers,
            timeout=20,
        ) as response:
            for line in response.iter_lines():
                connected.set()
                events.append(line)
                if line.startswith("event: mentions"):
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(30)
    httpx.post(
        f"{site['sandbox']}/_sandbox/posts",
        timeout=60,
        json={"network": "x", "author_handle": "grace", "text": "@ada the stream test"},
    ).raise_for_status()
    with Poller(site["db"]):
        thread.join(30)
    assert "event: mentions" in events


@pytest.mark.browser
def test_a_sandbox_post_appears_in_the_inbox_without_a_reload(
    site: dict[str, Any],
    chromium: Path,  # CI fails without Debian's chromium; skips only outside CI
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = site["base"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/listening/inbox")
        page.get_by_label("Email").fill("admin@live.test")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Mentions inbox")).to_be_visible()
        expect(page.locator("#live-state")).to_have_text("live")
        page.evaluate("window.__sameDocument = true")
        text = f"@ada live inbox check {time.time_ns()}"
        httpx.post(
            f"{site['sandbox']}/_sandbox/posts",
            timeout=60,
            json={"network": "x", "author_handle": "grace", "text": text},
        ).raise_for_status()
        with Poller(site["db"]):
            row = page.locator("tr", has_text=text)
            expect(row).to_be_visible(timeout=30_000)
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        expect(row).to_contain_text("@grace")
        row.get_by_role("button", name=re.compile(r"^Convert mention \d+ to ticket$")).click()
        expect(page.get_by_role("status").filter(has_text="ticket #")).to_be_visible()
        expect(page.locator("tr", has_text=text)).to_contain_text("Ticket #")
        browser.close()
