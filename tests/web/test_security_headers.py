"""Every answer of the app carries the security headers: no other site may frame a page
(clickjacking), nothing is sniffed into another type, no address leaks to other sites."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.app import create_app
from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings

PATHS = [
    "/login",  # a page
    "/contacts",  # a redirect to the login
    "/api/contacts",  # the API, unauthenticated
    "/api/contacts/0",  # a 404 of the API
    "/nowhere",  # a 404
    "/static/app.css",
    "/docs",
    "/openapi.json",
    "/health",
]


def directives(csp: str) -> dict[str, list[str]]:
    parts = (d.split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_forbids_framing_and_sniffing(app_client: TestClient, path: str) -> None:
    answer = app_client.get(path, follow_redirects=False)
    assert answer.headers["x-frame-options"] == "DENY"
    csp = directives(answer.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'self'" in csp["script-src"] and "*" not in csp["script-src"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_the_api_with_a_key_and_a_form_error_carry_them(api: TestClient) -> None:
    for answer in (
        api.get("/api/contacts"),
        api.post("/api/contacts", json={"name": ""}),
        api.post("/login", data={"email": "a@b.test", "password": "x", "csrf": "stale"}),
    ):
        assert answer.headers["x-frame-options"] == "DENY", answer.request.url
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_https_installs_ask_browsers_to_stay_on_https(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "base_url", "https://crm.example.com")
    with TestClient(create_app(), base_url="https://crm.example.com") as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=")
