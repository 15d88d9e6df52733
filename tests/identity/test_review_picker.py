"""The review queue never invites a wrong merge: a look-alike shows which characters differ
(with their code points), nothing is chosen for it, and the Contact is picked from a search."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.identity.homoglyphs import differences
from socialcrm.identity.models import IdentityProfile, IdentityReview
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, ui_login
from tests.identity.conftest import make_contact, resolve, set_policy

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    ("handle", "known", "marked"),
    [
        ("j0hn_doe", "john_doe", [("0", "U+0030", "digit zero", "o")]),
        (
            "j\u043ehn_do\u0435",
            "john_doe",
            [
                ("\u043e", "U+043E", "cyrillic small letter o", "o"),
                ("\u0435", "U+0435", "cyrillic small letter ie", "e"),
            ],
        ),
        ("john\u200b_doe", "john_doe", [("[U+200B]", "U+200B", "zero width space", "")]),
        ("john_doe", "john_doe", []),
    ],
)
def test_differences_name_each_character_that_is_not_the_known_one(
    handle: str, known: str, marked: list[tuple[str, str, str, str]]
) -> None:
    glyphs = differences(handle, known)
    assert "".join(g.char for g in glyphs) == handle
    assert [(g.visible, g.code_point, g.name, g.looks_like) for g in glyphs if g.differs] == marked


@pytest.fixture
def ui(app_client: TestClient, database: Database, tenant_id: int) -> TestClient:
    with database.session(system=True) as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        create_user(
            session, tenant=tenant, email="sam@review.test", password=PASSWORD, role=Role.AGENT
        )
    return ui_login(app_client, "sam@review.test", PASSWORD)


def radios(page: str) -> list[tuple[str, bool]]:
    """(value, checked) of every contact radio on the page."""
    found = re.findall(r'<input type="radio" name="contact_id" value="(\d+)"\s*(checked)?', page)
    return [(value, bool(checked)) for value, checked in found]


def test_a_look_alike_review_shows_the_difference_and_chooses_nothing(
    api: TestClient, ui: TestClient, database: Database, tenant_id: int
) -> None:
    john = make_contact(
        database, tenant_id, tier="platinum", handles=[{"network": "x", "handle": "john_doe"}]
    )
    other = make_contact(database, tenant_id, name="Johnny Impostor")
    review_id = resolve(api, "j0hn_doe", user_id="71")["review_id"]

    queue = ui.get("/identity/reviews").text
    assert '<mark class="confusable" title="U+0030 digit zero">0</mark>' in queue
    assert 'name="contact_id"' not in queue  # no typed, pre-filled id to merge with one click

    page = ui.get(f"/identity/reviews/{review_id}/merge").text
    assert "U+0030" in page and "digit zero" in page and "U+006F" in page
    assert radios(page) == [(str(john), False)]  # shown, not chosen
    refused = ui.post(
        f"/identity/reviews/{review_id}/merge",
        data={"csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert "choose the contact" in refused.text
    with database.session(tenant_id=tenant_id) as session:
        assert session.get(IdentityReview, review_id).status == "pending"  # type: ignore[union-attr]
        assert (
            session.scalars(select(IdentityProfile).where(IdentityProfile.user_id == "71")).all()
            == []
        )

    # The picker searches without JavaScript (the form) and as you type (its JSON).
    found = ui.get(f"/identity/reviews/{review_id}/merge", params={"q": "impostor"}).text
    assert radios(found) == [(str(john), False), (str(other), False)]
    typed = ui.get("/identity/contacts/search", params={"q": "impostor"}).json()["items"]
    assert [(c["id"], c["name"]) for c in typed] == [(other, "Johnny Impostor")]

    merged = ui.post(
        f"/identity/reviews/{review_id}/merge",
        data={"csrf": csrf_of(found), "contact_id": str(other)},
        follow_redirects=True,
    )
    assert "Merged." in merged.text
    assert resolve(api, "j0hn_doe", user_id="71")["customer_id"] == other


def test_the_api_merges_a_look_alike_only_into_a_named_contact(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    review_id = resolve(api, "j0hn_doe", user_id="71")["review_id"]
    unnamed = api.post(f"/api/identity/reviews/{review_id}/merge")
    assert unnamed.status_code == 400
    assert unnamed.json()["error"]["code"] == "validation_error"


def test_a_low_confidence_review_offers_its_candidate_chosen(
    api: TestClient, ui: TestClient, database: Database, tenant_id: int
) -> None:
    grace = make_contact(database, tenant_id, handles=[{"network": "x", "handle": "grace"}])
    set_policy(api, confidence_threshold=0.95)
    review_id = resolve(api, "grace")["review_id"]
    page = ui.get(f"/identity/reviews/{review_id}/merge").text
    assert radios(page) == [(str(grace), True)]
