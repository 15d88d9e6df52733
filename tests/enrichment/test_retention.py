"""Issue 22.1: tightening consent forgets what it no longer allows, and erasing a Contact
removes every social datum derived from it that no other Contact shares."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database, utcnow
from socialcrm.crm.models import Contact
from socialcrm.enrichment.matching import Refreshes
from socialcrm.enrichment.models import SocialPost, SocialProfileLink, SocialProfileSnapshot
from socialcrm.enrichment.store import store_posts
from socialcrm.identity.models import HandleAlias, IdentityProfile
from socialcrm.providers.base import PostData
from tests.enrichment.conftest import ADA, make_contact

GRACE = {"name": "Grace Hopper", "handles": [{"network": "x", "handle": "grace"}]}


def posts_of(database: Database, user_id: str) -> int:
    with database.session(system=True) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(SocialPost)
                .where(SocialPost.external_user_id == user_id)
            )
            or 0
        )


def forgotten(database: Database) -> list[AuditLog]:
    with database.session(system=True) as session:
        rows = list(
            session.scalars(select(AuditLog).where(AuditLog.action == "social_posts.forget"))
        )
        for row in rows:
            session.expunge(row)
        return rows


def test_withdrawing_consent_deletes_the_posts_it_no_longer_allows(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    ada = make_contact(api, **(ADA | {"enrichment_consent": True}))
    assert posts_of(database, "1001") == 1
    answer = api.patch(f"/api/contacts/{ada['id']}", json={"enrichment_consent": False})
    assert answer.status_code == 200, answer.text
    assert posts_of(database, "1001") == 0  # deleted, not only hidden
    [entry] = forgotten(database)
    assert (entry.target_type, entry.target_id) == ("contact", str(ada["id"]))
    assert entry.details["posts"] == 1 and entry.details["profiles"] == ["x:1001"]
    social = api.get(f"/api/contacts/{ada['id']}/social").json()
    assert (social["enrichment_consent"], social["posts_allowed"]) == (False, False)
    # Consent given again: the posts are fetched again by the next search.
    api.patch(f"/api/contacts/{ada['id']}", json={"enrichment_consent": True})
    api.post(f"/api/contacts/{ada['id']}/social/find")
    assert posts_of(database, "1001") == 1


def test_posts_another_consenting_contact_allows_stay(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    first = make_contact(api, **(GRACE | {"enrichment_consent": True}))
    make_contact(api, **(GRACE | {"name": "Grace H.", "enrichment_consent": True}))
    before = posts_of(database, "1002")
    assert before == 2
    api.patch(f"/api/contacts/{first['id']}", json={"enrichment_consent": False})
    assert posts_of(database, "1002") == before
    assert forgotten(database) == []


def test_tightening_the_tenant_policy_deletes_posts_fetched_without_consent(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    api.patch("/api/enrichment/settings", json={"restrict_without_consent": False})
    make_contact(api, **ADA)  # no consent: posts fetched under the permissive policy
    make_contact(api, **(GRACE | {"enrichment_consent": True}))
    assert (posts_of(database, "1001"), posts_of(database, "1002")) == (1, 2)
    answer = api.patch("/api/enrichment/settings", json={"restrict_without_consent": True})
    assert answer.status_code == 200, answer.text
    assert (posts_of(database, "1001"), posts_of(database, "1002")) == (0, 2)
    [entry] = forgotten(database)
    assert entry.actor.startswith("api_key:")
    assert entry.target_type == "tenant"
    assert entry.details["profiles"] == ["x:1001"]


def test_erasing_a_contact_removes_its_identity_profiles_and_aliases(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    ada = make_contact(api, **(ADA | {"enrichment_consent": True}))
    grace = make_contact(api, **GRACE)
    with database.session(system=True) as session:
        ada_profiles = session.scalars(
            select(IdentityProfile.id).where(IdentityProfile.contact_id == ada["id"])
        ).all()
        assert ada_profiles  # the Contact's handle is in the identity graph
    assert api.delete(f"/api/contacts/{ada['id']}").status_code == 204
    with database.session(system=True) as session:
        for model, column in (
            (IdentityProfile, IdentityProfile.id),
            (HandleAlias, HandleAlias.profile_id),
        ):
            left = session.scalar(
                select(func.count()).select_from(model).where(column.in_(ada_profiles))
            )
            assert left == 0, model.__name__
        kept = session.scalar(
            select(func.count())
            .select_from(IdentityProfile)
            .where(IdentityProfile.contact_id == grace["id"])
        )
        assert kept  # another Contact's identity stays


def test_a_rejection_shares_nothing_with_an_erased_contact(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    ada = make_contact(api, **(ADA | {"enrichment_consent": True}))
    other = make_contact(api, name="Somebody Else")
    linked = api.post(
        f"/api/contacts/{other['id']}/social/links",
        json={"handle_or_url": "@ada", "provider": "x"},
    ).json()
    assert api.post(f"/api/social-links/{linked['id']}/reject").status_code == 200
    assert api.delete(f"/api/contacts/{ada['id']}").status_code == 204
    with database.session(system=True) as session:
        snapshots = session.scalar(
            select(func.count())
            .select_from(SocialProfileSnapshot)
            .where(SocialProfileSnapshot.external_user_id == "1001")
        )
        assert snapshots == 0
        # The rejection itself stays: it is the other Contact's record.
        assert session.get(SocialProfileLink, linked["id"]) is not None
    assert posts_of(database, "1001") == 0


def test_posts_that_arrive_after_consent_was_withdrawn_are_not_kept(
    api: TestClient, accounts: dict[str, Any], database: Database
) -> None:
    """The posts are fetched with no transaction open; consent withdrawn meanwhile wins."""
    ada = make_contact(api, **ADA)  # linked, no consent: no posts allowed
    late = PostData("x", "9001", "1001", "ada", "Notes on the analytical engine", utcnow())
    with database.session(system=True) as session:
        tenant_id = session.scalars(select(Contact.tenant_id).where(Contact.id == ada["id"])).one()
        fetched = Refreshes(posts={("x", "1001"): [late]})
        assert store_posts(session, tenant_id, fetched, utcnow()) == 0
    assert posts_of(database, "1001") == 0
