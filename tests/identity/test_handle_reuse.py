"""A freed handle taken over by someone else never resolves to the customer who had it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.crm.models import Contact
from socialcrm.identity.models import HandleAlias, IdentityProfile
from tests.identity.conftest import make_contact, resolve


def test_a_new_owner_of_a_freed_handle_is_a_review_not_the_customer(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "42"}]
    )
    by_handle = resolve(api, "john_doe", "x")
    assert by_handle["resolved"] is True and by_handle["customer_id"] == contact_id
    renamed = resolve(api, "jd_official", "x", user_id="42")
    assert renamed["resolved"] is True and renamed["match"]["method"] == "user_id"

    taken_over = resolve(api, "john_doe", "x", user_id="666")
    assert taken_over["resolved"] is False
    assert taken_over["customer_id"] is None
    assert taken_over["review_required"] is True
    assert taken_over["reason"] == "handle_owner_changed"
    assert taken_over["match"]["signals"]["known_user_id"] == "42"
    assert taken_over["match"]["signals"]["user_id"] == "666"

    review = api.get(f"/api/identity/reviews/{taken_over['review_id']}").json()
    assert review["kind"] == "handle_reused" and review["reason"] == "handle_owner_changed"
    with database.session(tenant_id=tenant_id) as session:
        linked = session.scalars(
            select(IdentityProfile.user_id).where(IdentityProfile.contact_id == contact_id)
        ).all()
        assert linked == ["42"]  # 666 is not part of the customer's graph
        contact = session.get(Contact, contact_id)
        assert contact is not None
        assert contact.handles == [{"network": "x", "handle": "jd_official", "user_id": "42"}]
    # Without a user id, the old handle is a previous handle of the customer: a review too.
    old = resolve(api, "john_doe", "x")
    assert old["resolved"] is False and old["reason"] == "previous_handle"


def test_a_handle_only_match_records_no_second_identity(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "ada", "user_id": "7"}])
    assert resolve(api, "ada", "x")["resolved"] is True
    with database.session(tenant_id=tenant_id) as session:
        profiles = session.execute(select(IdentityProfile.user_id, IdentityProfile.handle)).all()
        assert [tuple(p) for p in profiles] == [("7", "ada")]


def test_an_identity_recorded_before_the_fix_does_not_let_the_new_owner_in(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    """Graphs written by earlier versions hold a user-id-less copy of a handle-only match."""
    contact_id = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "42"}]
    )
    with database.session(tenant_id=tenant_id) as session:
        shadow = IdentityProfile(
            network="x", user_id=None, handle="john_doe", contact_id=contact_id, source="resolve"
        )
        session.add(shadow)
        session.flush()
        session.add(
            HandleAlias(
                profile_id=shadow.id,
                network="x",
                handle="john_doe",
                local="john_doe",
                skeleton="john_doe",
            )
        )
    assert resolve(api, "jd_official", "x", user_id="42")["resolved"] is True
    taken_over = resolve(api, "john_doe", "x", user_id="666")
    assert taken_over["resolved"] is False and taken_over["reason"] == "handle_owner_changed"
    # The copy's handle was retired with the customer's: no handle-only match either.
    assert resolve(api, "john_doe", "x")["reason"] == "previous_handle"
    with database.session(tenant_id=tenant_id) as session:
        assert (
            session.scalars(select(IdentityProfile).where(IdentityProfile.user_id == "666")).all()
            == []
        )


def test_merging_a_reused_handle_review_links_the_new_account_only_when_a_person_says_so(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "42"}]
    )
    resolve(api, "jd_official", "x", user_id="42")
    review_id = resolve(api, "john_doe", "x", user_id="666")["review_id"]
    other = make_contact(database, tenant_id, name="The New Owner")
    merged = api.post(f"/api/identity/reviews/{review_id}/merge", json={"contact_id": other})
    assert merged.status_code == 200, merged.text
    assert resolve(api, "john_doe", "x", user_id="666")["customer_id"] == other
    assert resolve(api, "jd_official", "x", user_id="42")["customer_id"] == contact_id
