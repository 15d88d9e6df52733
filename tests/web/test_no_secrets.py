"""No token or secret in clear in the database or in any log line (the foundation's promise).

One test walks every path that handles a secret (API keys, passwords, provider app secrets,
OAuth codes, state and PKCE verifiers, access and refresh tokens, their rotation, Bluesky app
passwords, disconnect and revoke) with every log line captured at DEBUG, then reads every
column of every table raw, and looks for each secret in both.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from socialcrm.all_models import metadata
from socialcrm.connections import tokens
from socialcrm.connections.models import OAuthState, SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.logging import configure_logging
from socialcrm.core.principal import Role
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant
from tests.connections.flow import callback, consent, register_app, start, world_app

APP_PASSWORD = "app-password"  # the test world's Bluesky app password for ada
USER_PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", level=logging.DEBUG, stream=stream)
    try:
        yield stream
    finally:
        configure_logging("console")


def raw_database_text(database: Database) -> str:
    """Every value of every row of every table, as the database hands it out."""
    chunks: list[str] = []
    with database.session(system=True) as session:
        for table in metadata.sorted_tables:
            for row in session.execute(text(f"SELECT * FROM {table.name}")):  # noqa: S608
                chunks.extend(str(value) for value in row)
    return "\n".join(chunks)


@pytest.mark.usefixtures("sandbox")
def test_no_secret_in_the_database_or_the_logs(
    app_client: TestClient, database: Database, tenant_key: str, captured_logs: io.StringIO
) -> None:
    api = app_client
    api.headers["Authorization"] = f"Bearer {tenant_key}"
    secrets: dict[str, str] = {"api key": tenant_key, "user password": USER_PASSWORD}
    with database.session(system=True) as session:
        create_user(
            session,
            tenant=make_tenant(session, name="Tenant A"),
            email="ops@example.test",
            password=USER_PASSWORD,
            role=Role.ADMIN,
        )

    # A login through the UI (password in a form body).
    login_page = api.get("/login", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', login_page.text)
    assert csrf is not None
    logged_in = api.post(
        "/login",
        data={"email": "ops@example.test", "password": USER_PASSWORD, "csrf": csrf[1]},
        follow_redirects=False,
    )
    assert logged_in.status_code == 303, logged_in.text

    # OAuth: app secret, state, verifier, code, tokens, then a rotation and a revoke.
    register_app(api, "x")
    secrets["x client secret"] = world_app("x")["client_secret"]
    params = consent(start(api, "x"), "ada")
    with database.session(system=True) as session:
        secrets["pkce verifier"] = session.scalars(select(OAuthState)).one().code_verifier
    secrets["oauth code"] = params["code"]
    secrets["oauth state"] = params["state"]
    answer = callback(api, "x", params)
    assert answer.status_code == 303, answer.text
    account_id = int(answer.headers["location"].split("connected=")[1])

    def remember_tokens(label: str) -> SocialAccount:
        with database.session(system=True) as session:
            account = session.get(SocialAccount, account_id)
            assert account is not None and account.access_token and account.refresh_token
            secrets[f"{label} access token"] = account.access_token
            secrets[f"{label} refresh token"] = account.refresh_token
            return account

    first = remember_tokens("first")
    assert tokens.refresh_tokens(database, first.tenant_id, account_id, force=True)
    remember_tokens("rotated")

    bluesky = api.post(
        "/api/connections",
        json={"provider": "bluesky", "identifier": "ada.bsky.social", "app_password": APP_PASSWORD},
    )
    assert bluesky.status_code == 201, bluesky.text
    with database.session(system=True) as session:
        sky = session.get(SocialAccount, bluesky.json()["id"])
        assert sky is not None and sky.access_token
        secrets["bluesky session token"] = sky.access_token

    assert api.delete(f"/api/connections/{account_id}").status_code == 200

    logs = captured_logs.getvalue()
    assert "HTTP Request" in logs  # the capture really saw the outbound calls
    assert "[REDACTED]" in logs  # ... and secrets passing through, removed
    stored = raw_database_text(database)
    assert "gAAAA" in stored  # and the tokens really are there, encrypted
    for label, secret in secrets.items():
        assert len(secret) >= 8, label
        assert secret not in stored, f"{label} is stored in clear"
        assert secret not in logs, f"{label} appears in a log line"
