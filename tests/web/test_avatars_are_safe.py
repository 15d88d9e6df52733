"""Avatars are checked like links: only an http(s) address becomes an ``<img src>``. A network
(or a hostile Mastodon instance) answering ``javascript:`` or ``data:`` for a profile picture
stores nothing, and such an address stored before is not rendered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.enrichment.models import SocialProfileSnapshot
from socialcrm.providers.base import ProfileData
from socialcrm.tenancy.service import create_user
from tests.conftest import TEST_WORLD, make_tenant, ui_login
from tests.enrichment.conftest import ADA, connect_x, make_contact

PASSWORD = "correct horse battery staple"
HOSTILE = [
    "javascript:alert(document.cookie)",
    " JaVaScRiPt:alert(1)",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox",
]


def image_sources(page: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)


@pytest.fixture
def hostile_world(sandbox: Any) -> Iterator[Any]:
    """The test world, where Ada's and Grace's X avatars are script addresses."""
    world = json.loads(TEST_WORLD.read_text())
    for person in world["people"]:
        for account in person["accounts"]:
            if account["network"] == "x" and account["handle"] in ("ada", "grace"):
                account["avatar_url"] = "javascript:alert(document.cookie)"
    sandbox.load_world(world)
    try:
        yield sandbox
    finally:
        sandbox.load_world(json.loads(TEST_WORLD.read_text()))


@pytest.fixture
def ui(api: TestClient, database: Database) -> TestClient:
    """The API client, also logged in to the UI as an admin of the same tenant."""
    with database.session(system=True) as session:
        create_user(
            session,
            tenant=make_tenant(session, name="Tenant A"),
            email="ada@a.test",
            password=PASSWORD,
            role=Role.ADMIN,
        )
    return ui_login(api, "ada@a.test", PASSWORD)


@pytest.mark.parametrize("url", HOSTILE)
def test_a_profile_keeps_only_an_http_avatar(url: str) -> None:
    assert ProfileData(network="x", user_id="1", handle="a", avatar_url=url).avatar_url == ""
    fine = ProfileData(network="x", user_id="1", handle="a", avatar_url="https://cdn.test/a.png")
    assert fine.avatar_url == "https://cdn.test/a.png"


@pytest.mark.usefixtures("hostile_world")
def test_a_hostile_avatar_from_the_network_is_not_kept(ui: TestClient) -> None:
    account = connect_x(ui)  # as grace, whose avatar is a script address
    assert account["avatar_url"] == ""
    contact = make_contact(ui, **ADA)
    social = ui.get(f"/api/contacts/{contact['id']}/social").json()
    x = next(link for link in social["links"] if link["provider"] == "x")
    assert x["snapshot"]["avatar_url"] == ""
    assert social["photo_url"] == ""
    for page in (ui.get("/connections").text, ui.get(f"/contacts/{contact['id']}/social").text):
        assert image_sources(page) == []


@pytest.mark.parametrize("url", HOSTILE)
def test_a_hostile_avatar_stored_before_is_not_rendered(
    ui: TestClient, sandbox: Any, database: Database, url: str
) -> None:
    connect_x(ui)
    contact = make_contact(ui, **ADA)
    social = ui.get(f"/api/contacts/{contact['id']}/social").json()
    x = next(link for link in social["links"] if link["provider"] == "x")
    assert ui.post(f"/api/social-links/{x['id']}/use-as-photo").status_code == 200
    page = ui.get(f"/contacts/{contact['id']}/social").text
    assert image_sources(page)  # the real avatars show
    with database.session(system=True) as session:
        session.execute(update(SocialProfileSnapshot).values(avatar_url=url))
        session.execute(update(SocialAccount).values(avatar_url=url))
    for path in ("/connections", f"/contacts/{contact['id']}/social"):
        page = ui.get(path).text
        assert image_sources(page) == [], path
