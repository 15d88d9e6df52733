"""The README's network x capability table and the Connect page both come from the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.providers.base import Capability
from socialcrm.providers.capability_table import (
    COLUMNS,
    capability_labels,
    main,
    readme_section,
    table,
)
from socialcrm.providers.handles import Network
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from socialcrm_sandbox.schema import NETWORKS

README = Path(__file__).parents[2] / "README.md"


def test_readme_table_is_the_generated_one() -> None:
    assert readme_section(README.read_text()) == table(), (
        "README's capability table is stale: run "
        "`python -m socialcrm.providers.capability_table --write README.md`"
    )


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in table().split("\n\n", 1)[0].splitlines()[2:]:
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            name = re.search(r"`(\w+)`", cells[0])
            assert name is not None
            rows[name.group(1)] = cells[2:]
    return rows


def test_every_cell_states_what_the_adapter_declares() -> None:
    rows = _rows()
    assert list(rows) == list(PROVIDERS)
    for name, cells in rows.items():
        caps = PROVIDERS[name].capabilities
        for (title, capability), cell in zip(COLUMNS, cells, strict=True):
            offered = capability in caps or (
                capability is Capability.PUBLISH and Capability.PUBLISH_MEDIA in caps
            )
            assert cell.startswith("—") != offered, f"{name} / {title}: {cell}"


def test_the_networks_limits_show_in_the_table() -> None:
    rows = _rows()
    column = {title: i for i, (title, _) in enumerate(COLUMNS)}
    assert rows["tiktok"][column["lookup by handle"]] == "—"
    assert rows["linkedin"][column["DM"]] == "—"
    assert rows["youtube"][column["mentions"]] == "—"
    # Instagram Login has no business_discovery and no /tags (Facebook Login only)
    assert rows["instagram"][column["lookup by handle"]] == "—"
    assert rows["instagram"][column["mentions"]] == "—"
    assert rows["instagram"][column["publish"]].startswith("media")
    assert rows["x"][column["publish"]] == "text"


def test_the_table_says_what_each_network_requires_first() -> None:
    """App Review / PPCA, Community Management API, TikTok's audit, X's paid tier and
    Mastodon's admin role: generated from the adapters' declarations."""
    rows = _rows()
    column = {title: i for i, (title, _) in enumerate(COLUMNS)}
    assert rows["facebook"][column["lookup by handle"]].endswith("‡")
    assert rows["tiktok"][column["publish"]].endswith("‡")
    text = table()
    for network, words in (
        ("Facebook Pages", "Page Public Content Access"),
        ("LinkedIn", "Community Management API"),
        ("TikTok", "audit"),
        ("X", "paid X API tier"),
        ("Mastodon", "Manage Users role"),
    ):
        assert any(
            line.startswith(f"| {network} |") and words in line for line in text.splitlines()
        ), network
    assert "OAuth 2.0, client secret (PKCE only for native apps)" in text  # LinkedIn
    assert "OAuth 2.0 + PKCE (hex challenge)" in text  # TikTok


def test_the_script_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == table()
    assert main(["--bogus"]) == 2


def test_one_spelling_everywhere() -> None:
    """Registry, sandbox world networks and the handle canonicaliser name the same networks."""
    assert set(PROVIDERS) == set(NETWORKS) == {n.value for n in Network}


def test_connect_page_lists_every_network_with_what_it_offers(
    app_client: TestClient, database: Database
) -> None:
    with database.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Connect Co")
        create_user(
            session,
            tenant=tenant,
            email="lee@connect.test",
            password="correct horse",
            role=Role.ADMIN,
        )
    login_page = LexborHTMLParser(app_client.get("/login").text)
    csrf_input = login_page.css_first("input[name=csrf]")
    assert csrf_input is not None
    logged_in = app_client.post(
        "/login",
        data={
            "email": "lee@connect.test",
            "password": "correct horse",
            "csrf": csrf_input.attributes["value"] or "",
            "next": "/connections",
        },
        follow_redirects=True,
    )
    assert logged_in.status_code == 200
    page = LexborHTMLParser(logged_in.text)
    forms = page.css("form.provider")
    assert [f.css_first("input[name=provider]").attributes["value"] for f in forms] == list(
        PROVIDERS
    )
    for form in forms:
        name = form.css_first("input[name=provider]").attributes["value"] or ""
        info = PROVIDERS[name]
        assert form.css_first("h3").text() == info.display_name
        assert form.css_first("button").text() == f"Connect {info.display_name}"
        offers = [li.css_first("span.label").text() for li in form.css("ul.offers li")]
        assert offers == capability_labels(info.capabilities)
    tiktok = next(f for f in forms if "net-tiktok" in (f.attributes["class"] or ""))
    offered = [li.text() for li in tiktok.css("ul.offers li")]
    assert "Find profiles by handle" not in offered
    assert any(o.startswith("Publish photos and videos") and "audit" in o for o in offered)
    facebook = next(f for f in forms if "net-facebook" in (f.attributes["class"] or ""))
    requires = [r.text() for r in facebook.css("ul.offers li span.requires")]
    assert any("Page Public Content Access" in r for r in requires)
