"""``/docs`` works without the internet: Swagger UI's files are served by the app itself."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from tests.conftest import CHROMIUM_ARGS
from tests.live import live_app


def test_docs_page_loads_every_asset_from_the_app(app_client: TestClient) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    tree = LexborHTMLParser(page.text)
    assets = [
        node.attributes.get("src") or node.attributes.get("href") or ""
        for node in tree.css("script[src], link[href]")
    ]
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert not urlsplit(asset).netloc, f"{asset} is loaded from another host"
        answer = app_client.get(urljoin("/docs", asset))
        assert answer.status_code == 200, asset
        assert len(answer.content) > 100, asset
    # Nothing in the page's own script reaches out either (Swagger UI's online validator
    # badge, a CDN fallback).
    assert not re.search(r"https?://", page.text.replace(str(app_client.base_url), ""))
    spec = app_client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "socialcrm"


def test_redoc_is_not_offered_from_a_cdn(app_client: TestClient) -> None:
    assert app_client.get("/redoc").status_code == 404


@pytest.mark.browser
def test_swagger_ui_renders_with_every_other_host_blocked(
    chromium: Path, database: Database
) -> None:
    """What a user without internet access sees: the operations, not a blank page."""
    from playwright.sync_api import Route, expect, sync_playwright

    elsewhere: list[str] = []

    def only_this_machine(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with live_app() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", only_this_machine)
        page.goto(f"{base}/docs")
        # Swagger UI lays out every route before the title shows: on a busy 2-core machine that
        # took over the default 5 s.
        expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "socialcrm", timeout=30_000
        )
        expect(page.locator(".opblock-summary-path", has_text="/api/audit")).to_have_count(1)
        browser.close()
    assert elsewhere == []
