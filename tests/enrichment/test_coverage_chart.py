"""Enrichment coverage per network as a picture: the share of Contacts linked on each."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm.models import Contact
from socialcrm.enrichment import links
from socialcrm.enrichment.models import LinkStatus, SocialProfileLink
from socialcrm.tenancy.service import create_user
from tests.conftest import make_tenant, ui_login

PASSWORD = "correct horse battery staple"


@pytest.fixture
def tenant_id(database: Database) -> int:
    """Four Contacts: two linked on x (one of them twice), one on mastodon, one only suggested
    on bluesky; another tenant's Contact linked on bluesky."""
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Cover Co")
        other = make_tenant(session, name="Other Cover Co")
        create_user(
            session, tenant=tenant, email="lu@cover.test", password=PASSWORD, role=Role.AGENT
        )
        contacts = [Contact(tenant_id=tenant.id, name=f"Person {n}") for n in range(4)]
        theirs = Contact(tenant_id=other.id, name="Not ours")
        session.add_all([*contacts, theirs])
        session.flush()
        links = [
            (contacts[0], "x", "a", LinkStatus.LINKED),
            (contacts[0], "x", "a2", LinkStatus.LINKED),
            (contacts[1], "x", "b", LinkStatus.LINKED),
            (contacts[1], "mastodon", "b", LinkStatus.LINKED),
            (contacts[2], "bluesky", "c", LinkStatus.SUGGESTED),
            (theirs, "bluesky", "z", LinkStatus.LINKED),
        ]
        for contact, network, user_id, status in links:
            session.add(
                SocialProfileLink(
                    tenant_id=contact.tenant_id,
                    contact_id=contact.id,
                    provider=network,
                    external_user_id=user_id,
                    handle=user_id,
                    handle_key=user_id,
                    status=status,
                )
            )
        session.flush()
        return tenant.id


def test_coverage_counts_each_linked_contact_once_per_network(
    database: Database, tenant_id: int
) -> None:
    with database.session(tenant_id=tenant_id) as session:
        report = links.report(session)
    assert report["contacts"] == 4
    assert [(c["provider"], c["contacts_linked"], c["share"]) for c in report["coverage"]] == [
        ("mastodon", 1, 0.25),
        ("x", 2, 0.5),
    ]


def test_the_enrichment_page_draws_a_bar_per_network(
    app_client: TestClient, tenant_id: int
) -> None:
    ui = ui_login(app_client, "lu@cover.test", PASSWORD)
    page = LexborHTMLParser(ui.get("/enrichment").text)
    svg = page.css_first('svg[data-chart="hbar"]')
    assert svg.css_first("title").text() == "Share of 4 Contacts linked, per network"
    assert [r.css_first("title").text() for r in svg.css("rect.chart-bar")] == [
        "mastodon: 25%",
        "x: 50%",
    ]
    assert svg.attributes["aria-label"].endswith("mastodon 25%, x 50%.")
    widths = [float(r.attributes["width"] or 0) for r in svg.css("rect.chart-bar")]
    assert widths[1] == pytest.approx(2 * widths[0])


def test_without_links_the_page_says_so(app_client: TestClient, database: Database) -> None:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Empty Co")
        create_user(
            session, tenant=tenant, email="em@empty.test", password=PASSWORD, role=Role.AGENT
        )
    ui = ui_login(app_client, "em@empty.test", PASSWORD)
    page = ui.get("/enrichment").text
    assert "No Contact is linked to a social profile yet." in page
    assert 'data-chart="hbar"' not in page
