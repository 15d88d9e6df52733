"""The rules editor page: create, edit (prefilled), preview, through the real login form."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser
from selectolax.lexbor import LexborNode as Node

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.listening import service
from socialcrm.listening.models import ListeningRule
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login

PASSWORD = "correct horse battery staple"


@pytest.fixture
def tenant_id(database: Database) -> int:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        create_user(
            session, tenant=tenant, email="mia@acme.test", password=PASSWORD, role=Role.MARKETING
        )
        return tenant.id


@pytest.fixture
def ui(app_client: TestClient, tenant_id: int) -> TestClient:
    return ui_login(app_client, "mia@acme.test", PASSWORD)


def csrf(client: TestClient, path: str) -> str:
    return csrf_of(client.get(path).text)


def rule_form(client: TestClient, **fields: str | list[str]) -> dict[str, str | list[str]]:
    return {"csrf": csrf(client, "/listening/rules"), **fields}


def value_of(form: Node, selector: str) -> str:
    """An input's value as the browser gets it (read from the markup itself)."""
    found = re.search(r'\svalue="([^"]*)"', form.css_first(selector).html or "")
    assert found is not None, selector
    return html.unescape(found[1])


def stored(database: Database, tenant_id: int) -> ListeningRule:
    with database.session(tenant_id=tenant_id) as session:
        (rule,) = service.list_rules(session)
        session.expunge(rule)
        return rule


def test_a_rule_is_edited_in_its_prefilled_form(
    ui: TestClient, database: Database, tenant_id: int
) -> None:
    made = ui.post(
        "/listening/rules",
        data=rule_form(
            ui,
            name="Broken phones",
            query="acme AND broken",
            networks=["x", "mastodon"],
            languages="en, fr",
            sentiments=["negative"],
            support="on",
            actions=["notify"],
        ),
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    rule = stored(database, tenant_id)
    ui.post(f"/listening/rules/{rule.id}/toggle", data={"csrf": csrf(ui, "/listening/rules")})

    page = LexborHTMLParser(ui.get(f"/listening/rules?edit={rule.id}").text)
    form = page.css_first("#rule-form")
    assert form.attributes["action"] == f"/listening/rules/{rule.id}"
    assert value_of(form, "#r-name") == "Broken phones"
    assert value_of(form, "#r-query") == "acme AND broken"
    assert value_of(form, "#r-languages") == "en, fr"
    checked = {
        (n.attributes["name"], n.attributes.get("value")) for n in form.css("input[checked]")
    }
    assert checked == {
        ("networks", "x"),
        ("networks", "mastodon"),
        ("sentiments", "negative"),
        ("support", None),
        ("actions", "notify"),
    }

    saved = ui.post(
        f"/listening/rules/{rule.id}",
        data=rule_form(
            ui, name="Broken or refund", query="acme AND (broken OR refund)", actions=["ticket"]
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    after = stored(database, tenant_id)
    assert (after.id, after.name) == (rule.id, "Broken or refund")
    assert after.query == "acme AND (broken OR refund)"
    assert after.networks == [] and after.languages == [] and after.sentiments == []
    assert after.support is False and after.actions == ["ticket"]
    assert after.active is False  # paused before the edit, still paused: not a form field


def test_a_bad_edit_is_refused_and_changes_nothing(
    ui: TestClient, database: Database, tenant_id: int
) -> None:
    ui.post(
        "/listening/rules", data=rule_form(ui, name="Acme", query="acme"), follow_redirects=False
    )
    rule = stored(database, tenant_id)
    bad = ui.post(f"/listening/rules/{rule.id}", data=rule_form(ui, name="Acme", query="acme AND"))
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text and "Edit rule" in bad.text
    assert stored(database, tenant_id).query == "acme"
    assert ui.get("/listening/rules?edit=999999").status_code == 404
    missing = ui.post("/listening/rules/999999", data=rule_form(ui, name="x", query="x"))
    assert missing.status_code == 404


def test_preview_is_not_taken_for_a_rule_id(ui: TestClient) -> None:
    answer = ui.post("/listening/rules/preview", data=rule_form(ui, query="acme"))
    assert answer.status_code == 200, answer.text
    assert "7 days" in answer.text or "mention" in answer.text


def test_another_tenants_rule_cannot_be_opened_or_edited(
    ui: TestClient, database: Database
) -> None:
    with database.session(system=True) as session:
        other = make_tenant(session, name="Tenant B")
        theirs = ListeningRule(tenant_id=other.id, name="Theirs", query="secret")
        session.add(theirs)
        session.flush()
        theirs_id = theirs.id
    assert ui.get(f"/listening/rules?edit={theirs_id}").status_code == 404
    edit = ui.post(f"/listening/rules/{theirs_id}", data=rule_form(ui, name="Mine", query="x"))
    assert edit.status_code == 404
    with database.session(system=True) as session:
        assert session.get(ListeningRule, theirs_id).name == "Theirs"  # type: ignore[union-attr]


def test_a_refused_rule_says_why_in_plain_words_and_keeps_what_was_typed(
    ui: TestClient,
) -> None:
    answer = ui.post(
        "/listening/rules",
        data=rule_form(
            ui,
            name="Near the shop",
            query="tent OR stove",
            languages="en, fr",
            lat="39.7",
            lon="-105",
            radius_km="0",
            sentiments=["negative"],
        ),
        follow_redirects=False,
    )
    assert answer.status_code == 400
    page = LexborHTMLParser(answer.text)
    error = page.css_first("#rule-form .field-error")
    assert error is not None
    assert error.text(strip=True) == "Radius (km): must be more than 0"
    assert "Input should" not in answer.text and "geo.radius_km" not in answer.text
    form = page.css_first("#rule-form")
    assert value_of(form, "#r-name") == "Near the shop"
    assert value_of(form, "#r-query") == "tent OR stove"
    assert value_of(form, "#r-languages") == "en, fr"
    assert value_of(form, "#r-radius") == "0"
    checked = form.css_first('input[name="sentiments"][value="negative"]')
    assert checked is not None and "checked" in checked.attributes
    assert (form.attributes.get("action") or "") == "/listening/rules"  # still a new rule
