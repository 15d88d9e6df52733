"""What the browser tests share: a committed database served by our app on a loopback port
(``settings.base_url`` pointing at it meanwhile), X's app registered at the sandbox and a brand
account connected through its consent screen, and logging in through the login form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from socialcrm.connections import connecting
from socialcrm.connections.models import Ownership, ProviderApp
from socialcrm.core.db import Database
from socialcrm.core.principal import Principal, Role
from socialcrm.core.settings import get_settings
from tests.conftest import committed_database
from tests.live import live_app

PASSWORD = "correct horse"


@contextmanager
def live_site(tmp_path: Path, name: str) -> Iterator[tuple[str, Database]]:
    """The base URL of our app serving a committed database of its own, and that database."""
    settings = get_settings()
    previous_base = settings.base_url
    with committed_database(tmp_path, name) as (db, _url):
        try:
            with live_app() as base:
                settings.base_url = base
                yield base, db
        finally:
            settings.base_url = previous_base


def connect_brand_x(db: Database, tenant_id: int) -> None:
    """The tenant's admin connects the brand account @ada through X's consent screen."""
    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    with db.session(tenant_id=tenant_id) as session:
        start = connecting.start_oauth(session, principal, provider="x", ownership=Ownership.BRAND)
    parts = urlsplit(start.authorization_url)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | {
        "account": "ada",
        "decision": "allow",
    }
    answer = httpx.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
    back = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    connecting.complete_oauth(db, provider="x", params=back)


def connect_x_app_and_brand(
    db: Database, tenant_id: int, *, sandbox_url: str, base: str, client_id: str
) -> None:
    """X's app ``client_id`` (secret ``<client_id>-secret``) registered at the sandbox with our
    callback and in the tenant's settings, then the brand account @ada connected with it."""
    secret = f"{client_id}-secret"
    httpx.post(
        f"{sandbox_url}/_sandbox/apps",
        json={
            "network": "x",
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [f"{base}/oauth/callback/x"],
        },
    ).raise_for_status()
    with db.session(tenant_id=tenant_id) as session:
        session.add(ProviderApp(provider="x", client_id=client_id, client_secret=secret))
    connect_brand_x(db, tenant_id)


def log_in(
    page: Any, base: str, email: str, path: str = "/login", password: str = PASSWORD
) -> None:
    """Open ``path`` (the login form, or a page that asks for it) and log in as ``email``."""
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(
    browser: Any,
    base: str,
    email: str,
    password: str = PASSWORD,
    viewport: dict[str, int] | None = None,
) -> Any:
    """A new page of ``browser`` logged in as ``email``, on the Contacts page it lands on."""
    page = browser.new_page(viewport=viewport or {"width": 1366, "height": 900})
    log_in(page, base, email, password=password)
    page.wait_for_url("**/contacts")
    return page
