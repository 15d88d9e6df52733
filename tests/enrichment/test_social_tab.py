"""The Contact's Social tab, server-rendered: the replace step and the consent state."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login
from tests.enrichment.conftest import make_contact

PASSWORD = "correct horse battery staple"


@pytest.fixture
def ui(api: TestClient, database: Database) -> TestClient:
    """The API client, also logged in to the UI as an agent of the same tenant."""
    with database.session(system=True) as session:
        create_user(
            session,
            tenant=make_tenant(session, name="Tenant A"),
            email="sam@acme.test",
            password=PASSWORD,
            role=Role.AGENT,
        )
    return ui_login(api, "sam@acme.test", PASSWORD)


def hidden_fields(page: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form is not None, f"no form posting to {action}"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form[0]))


@pytest.mark.usefixtures("facebook")
def test_a_second_facebook_profile_is_a_confirm_step(ui: TestClient) -> None:
    contact = make_contact(ui, name="Somebody Else")
    path = f"/contacts/{contact['id']}/social"
    csrf = csrf_of(ui.get(path).text)
    first = ui.post(
        f"{path}/links",
        data={"csrf": csrf, "handle_or_url": "https://www.facebook.com/hopperlectures"},
        follow_redirects=False,
    )
    assert first.status_code == 303
    second = ui.post(
        f"{path}/links",
        data={"csrf": csrf, "handle_or_url": "https://www.facebook.com/analyticalengines"},
    )
    assert second.status_code == 409
    assert "Replace the Facebook Pages profile?" in second.text
    assert "@hopperlectures" in second.text and "@analyticalengines" in second.text
    fields = hidden_fields(second.text, f"{path}/links")
    assert fields["replace"] == "true"
    assert fields["handle_or_url"] == "https://www.facebook.com/analyticalengines"
    replaced = ui.post(f"{path}/links", data=fields, follow_redirects=False)
    assert replaced.status_code == 303
    social = ui.get(f"/api/contacts/{contact['id']}/social").json()
    linked = [lk["handle"] for lk in social["links"] if lk["status"] == "linked"]
    assert linked == ["analyticalengines"]


def test_the_tab_shows_the_consent_state_and_its_effect(
    ui: TestClient, accounts: dict[str, Any]
) -> None:
    contact = make_contact(ui, name="Somebody Else")
    path = f"/contacts/{contact['id']}/social"
    page = ui.get(path).text
    assert "<strong>No enrichment consent</strong>: profiles are linked, but public" in page
    assert "posts are not fetched or kept for this Contact" in page
    ui.patch(f"/api/contacts/{contact['id']}", json={"enrichment_consent": True})
    page = ui.get(path).text
    assert "<strong>Enrichment consent given</strong>" in page
    assert "withdrawing consent deletes the stored posts" in page
    ui.patch(f"/api/contacts/{contact['id']}", json={"enrichment_consent": False})
    ui.patch("/api/enrichment/settings", json={"restrict_without_consent": False})
    page = ui.get(path).text
    assert "does not restrict enrichment without it: public posts are fetched" in page
