"""POST /api/v1/resolve: the rules a routing flow relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from socialcrm.core.db import Database, utcnow
from socialcrm.crm.models import Activity, Contact
from socialcrm.identity.graph import record_email_handle, record_identity
from socialcrm.identity.models import HandleAlias, IdentityProfile, IdentityReview
from tests.identity.conftest import make_contact, resolve, set_policy


def test_a_contacts_handle_resolves_with_profile_data_and_social_graph(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    created = api.post(
        "/api/contacts",
        json={
            "name": "John Doe",
            "tier": "gold",
            "handles": [
                {"network": "x", "handle": "@John_Doe", "user_id": "123456789"},
                {"network": "mastodon", "handle": "john@mastodon.social"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    with database.session(tenant_id=tenant_id) as session:
        session.add(Activity(kind="note", contact_id=contact_id, occurred_at=utcnow()))

    body = resolve(api, "https://twitter.com/JOHN_DOE", "twitter", user_id="123456789")
    assert body["resolved"] is True
    assert body["customer_id"] == contact_id
    assert body["confidence"] == 1.0
    assert body["match"]["method"] == "user_id"
    assert body["profile_data"]["name"] == "John Doe"
    assert body["profile_data"]["tier"] == "gold"
    assert body["profile_data"]["last_interaction"] is not None
    assert body["social_graph"]["x"] == [
        {"user_id": "123456789", "handle": "john_doe", "url": "https://x.com/john_doe"}
    ]
    assert body["social_graph"]["mastodon"][0]["url"] == "https://mastodon.social/@john"

    # The same customer is recognised on Mastodon, by handle, in the @user@instance form.
    other = resolve(api, "@John@Mastodon.Social", "mastodon")
    assert other["resolved"] is True and other["customer_id"] == contact_id
    assert other["match"]["method"] == "handle"


def test_known_user_id_with_a_new_handle_resolves_and_keeps_history(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "42"}]
    )
    body = resolve(api, "@jd_official", user_id="42")
    assert body["resolved"] is True and body["customer_id"] == contact_id
    assert body["match"]["signals"]["previous_handle"] == "john_doe"
    assert [p["handle"] for p in body["social_graph"]["x"]] == ["jd_official"]
    with database.session(tenant_id=tenant_id) as session:
        aliases = session.scalars(select(HandleAlias).order_by(HandleAlias.id)).all()
        assert [(a.handle, a.retired_at is None) for a in aliases] == [
            ("john_doe", False),
            ("jd_official", True),
        ]
        contact = session.get(Contact, contact_id)
        assert contact is not None
        assert contact.handles == [{"network": "x", "handle": "jd_official", "user_id": "42"}]
    # The old handle now only points at a previous alias: not enough to resolve on its own.
    old = resolve(api, "john_doe")
    assert old["resolved"] is False
    assert old["review_required"] is True
    assert old["reason"] == "previous_handle"


def test_a_handle_now_owned_by_another_user_id_is_not_resolved(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "ada", "user_id": "1"}])
    body = resolve(api, "ada", user_id="2")
    assert body["resolved"] is False
    assert body["reason"] == "handle_owner_changed"
    assert body["review_required"] is True


@pytest.mark.parametrize(
    ("handle", "channel"),
    [
        ("john doe", "x"),
        ("averyveryverylonghandle", "x"),
        ("https://x.com/home", "x"),
        ("ada", "mastodon"),
        ("@", "x"),
        ("https://mastodon.social/@ada", "x"),
        ("ada", "myspace"),
    ],
)
def test_impossible_handles_are_a_clear_400(api: TestClient, handle: str, channel: str) -> None:
    response = api.post("/api/v1/resolve", json={"handle": handle, "channel": channel})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("spoof", ["j0hn_doe", "j\u043ehn_do\u0435", "JOHN_D0E", "john\u200b_doe"])
def test_look_alike_handles_are_never_resolved(
    api: TestClient, database: Database, tenant_id: int, spoof: str
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    body = resolve(api, spoof)
    assert body["resolved"] is False
    assert body["customer_id"] is None
    assert body["review_required"] is True
    assert body["reason"] == "confusable_with:john_doe"
    assert body["review_id"] is not None
    # Even a tenant that trusts everything does not let a look-alike through.
    set_policy(api, confidence_threshold=0.5)
    assert resolve(api, spoof)["resolved"] is False


def test_below_the_tenants_threshold_goes_to_review(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id, handles=[{"network": "x", "handle": "grace"}])
    assert resolve(api, "grace")["resolved"] is True  # handle match, 0.9 >= 0.85
    set_policy(api, confidence_threshold=0.95)
    body = resolve(api, "grace")
    assert body["resolved"] is False
    assert body["review_required"] is True
    assert body["reason"] == "below_threshold"
    reviews = api.get("/api/identity/reviews").json()["items"]
    assert [(r["kind"], r["candidate_contact_id"]) for r in reviews] == [
        ("low_confidence", contact_id)
    ]
    # Asked again: the same review, counted, not a second one.
    resolve(api, "grace")
    again = api.get("/api/identity/reviews").json()["items"]
    assert len(again) == 1 and again[0]["occurrences"] == 2


def test_email_mapping_links_an_unknown_user_id_to_the_contact(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id, emails=["ada@example.com"])
    with database.session(tenant_id=tenant_id) as session:
        record_email_handle(session, "Ada@Example.com", "bluesky", "ada.bsky.social")
    body = resolve(api, "@ada.bsky.social", "bluesky", user_id="did:plc:ewvi7nxzyoun6zhxrhs64oiz")
    assert body["resolved"] is True and body["customer_id"] == contact_id
    assert body["match"]["method"] == "email"
    assert body["social_graph"]["bluesky"][0]["user_id"] == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    # Learnt: the user id is now in the graph and resolves directly.
    again = resolve(api, "ada.bsky.social", "bluesky", user_id="did:plc:ewvi7nxzyoun6zhxrhs64oiz")
    assert again["match"]["method"] == "user_id"


def test_record_identity_is_the_entry_point_for_other_domains(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id)
    other_id = make_contact(database, tenant_id, name="Someone Else")
    with database.session(tenant_id=tenant_id) as session:
        linked = record_identity(
            session, contact_id, "mastodon", "77", "@jd@fosstodon.org", "enrichment"
        )
        assert linked.conflict_contact_id is None
        clash = record_identity(
            session, other_id, "mastodon", "77", "jd@fosstodon.org", "enrichment"
        )
        assert clash.conflict_contact_id == contact_id  # not moved silently
    body = resolve(api, "jd@fosstodon.org", "mastodon", user_id="77")
    assert body["customer_id"] == contact_id
    assert body["social_graph"]["mastodon"][0]["user_id"] == "77@fosstodon.org"


@pytest.mark.parametrize(
    ("extra", "signal"),
    [
        ({"user_id": "666"}, "known_bot"),
        ({"handle": "@SpamBot"}, "known_bot"),
        ({"account_created_at": (utcnow() - timedelta(days=2)).isoformat()}, "new_account"),
        ({"message": "Get FREE FOLLOWERS now!!!"}, "spam"),
    ],
)
def test_bots_are_filtered_before_any_resolution(
    api: TestClient, database: Database, tenant_id: int, extra: dict[str, str], signal: str
) -> None:
    make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "666"}]
    )
    set_policy(api, bot_user_ids=["666"], bot_handles=["spambot"])
    body = resolve(api, **{"handle": "john_doe", "channel": "x", **extra})
    assert body["resolved"] is False
    assert body["reason"] == "bot_suspected"
    assert body["match"]["signals"]["bot_signal"] == signal
    with database.session(tenant_id=tenant_id) as session:
        assert session.scalars(select(IdentityReview)).all() == []


def test_an_old_account_and_a_clean_message_pass_the_bot_filter(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    body = resolve(
        api,
        "john_doe",
        message="my order has not arrived, free delivery was promised",
        account_created_at=(utcnow() - timedelta(days=30)).isoformat(),
    )
    assert body["resolved"] is True


def test_rate_limit_per_user_id_answers_429_and_is_logged_for_review(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "5"}]
    )
    set_policy(api, rate_limit_per_minute=3)
    with time_machine.travel(utcnow(), tick=False):
        for _ in range(3):
            assert resolve(api, "john_doe", user_id="5")["resolved"] is True
        over = api.post(
            "/api/v1/resolve", json={"handle": "john_doe", "channel": "x", "user_id": "5"}
        )
        assert over.status_code == 429
        assert over.json()["error"]["code"] == "rate_limited"
        assert int(over.headers["Retry-After"]) >= 1
        # Another user id has its own budget.
        assert resolve(api, "someone", user_id="6")["resolved"] is False
    reviews = api.get("/api/identity/reviews").json()["items"]
    assert [(r["kind"], r["user_id"]) for r in reviews] == [("rate_limited", "5")]
    with time_machine.travel(utcnow() + timedelta(minutes=3), tick=False):
        assert resolve(api, "john_doe", user_id="5")["resolved"] is True


def test_answers_are_cached_and_dropped_when_links_change(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    first = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "kay", "user_id": "9"}]
    )
    assert resolve(api, "kay", user_id="9")["cached"] is False
    assert resolve(api, "kay", user_id="9")["cached"] is True
    second = make_contact(database, tenant_id, name="Kay Two")
    with database.session(tenant_id=tenant_id) as session:
        record_identity(session, second, "x", "9", "kay", "review", relink=True)
    moved = resolve(api, "kay", user_id="9")
    assert moved["cached"] is False and moved["customer_id"] == second
    assert first != second


def test_cache_expires_within_five_minutes(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "lee", "user_id": "3"}]
    )
    with time_machine.travel(utcnow(), tick=False) as clock:
        assert resolve(api, "lee", user_id="3")["profile_data"]["last_interaction"] is None
        with database.session(tenant_id=tenant_id) as session:  # not an edit of the Contact
            session.add(Activity(kind="note", contact_id=contact_id, occurred_at=utcnow()))
        assert resolve(api, "lee", user_id="3")["profile_data"]["last_interaction"] is None
        clock.shift(timedelta(seconds=301))
        assert resolve(api, "lee", user_id="3")["profile_data"]["last_interaction"] is not None


def test_always_fresh_tiers_skip_the_cache(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(
        database,
        tenant_id,
        tier="platinum",
        handles=[{"network": "x", "handle": "vip", "user_id": "8"}],
    )
    resolve(api, "vip", user_id="8")
    api.patch(f"/api/contacts/{contact_id}", json={"name": "VIP Renamed"})
    body = resolve(api, "vip", user_id="8")
    assert body["cached"] is False and body["profile_data"]["name"] == "VIP Renamed"


def test_batch_answers_each_item(api: TestClient, database: Database, tenant_id: int) -> None:
    contact_id = make_contact(database, tenant_id, handles=[{"network": "x", "handle": "john_doe"}])
    response = api.post(
        "/api/v1/resolve:batch",
        json={
            "requests": [
                {"handle": "john_doe", "channel": "x"},
                {"handle": "not valid!", "channel": "x"},
                {"handle": "j0hn_doe", "channel": "x"},
                {"handle": "nobody", "channel": "x"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["result"]["customer_id"] == contact_id
    assert results[1]["error"]["code"] == "validation_error"
    assert results[2]["result"]["reason"] == "confusable_with:john_doe"
    assert results[3]["result"]["reason"] == "no_match"


def test_batch_size_is_bounded(api: TestClient) -> None:
    one = {"handle": "someone", "channel": "x"}
    assert api.post("/api/v1/resolve:batch", json={"requests": [one] * 1000}).status_code == 200
    too_many = api.post("/api/v1/resolve:batch", json={"requests": [one] * 1001})
    assert too_many.status_code == 400
    assert api.post("/api/v1/resolve:batch", json={"requests": []}).status_code == 400


def test_guest_lead_is_created_once_and_tagged(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    body = resolve(api, "newbie", user_id="555", create_lead=True, display_name="New Person")
    assert body["resolved"] is False
    assert body["reason"] == "lead_created"
    assert body["match"]["signals"]["tags"] == ["needs_review"]
    lead_id = body["lead_id"]
    lead = api.get(f"/api/leads/{lead_id}").json()
    assert lead["name"] == "New Person" and "#needs_review" in lead["notes"]
    # Same user id under another handle: the same Lead, never a second one.
    again = resolve(api, "newbie_renamed", user_id="555", create_lead=True)
    assert again["lead_id"] == lead_id and again["reason"] == "known_lead"
    assert len(api.get("/api/leads").json()["items"]) == 1
    reviews = api.get("/api/identity/reviews").json()["items"]
    assert [(r["kind"], r["lead_id"]) for r in reviews] == [("new_lead", lead_id)]


def test_guest_with_a_customers_email_is_linked_not_made_a_lead(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    contact_id = make_contact(database, tenant_id, emails=["mia@example.com"])
    body = resolve(api, "mia_new", user_id="777", email="MIA@example.com", create_lead=True)
    assert body["resolved"] is True and body["customer_id"] == contact_id
    assert api.get("/api/leads").json()["items"] == []
    with database.session(tenant_id=tenant_id) as session:
        profile = session.scalars(select(IdentityProfile)).one()
        assert (profile.user_id, profile.contact_id) == ("777", contact_id)


def test_validation_errors_are_400_not_500(api: TestClient) -> None:
    for body in (
        {},
        {"handle": "x" * 3000, "channel": "x"},
        {"handle": "ada", "channel": "x", "user_id": "has space"},
        {"handle": "ada", "channel": "x", "unknown": 1},
        {"handle": "ada", "channel": "x", "email": "not-an-email"},
    ):
        response = api.post("/api/v1/resolve", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "validation_error"


def test_another_tenant_sees_nothing(
    app_client: TestClient, database: Database, api: TestClient, tenant_id: int
) -> None:
    from tests.conftest import make_api_key, make_tenant

    make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "john_doe", "user_id": "1"}]
    )
    resolve(api, "j0hn_doe")  # a review in tenant A
    with database.session(system=True) as session:
        key_b = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    headers = {"Authorization": f"Bearer {key_b}"}
    body = app_client.post(
        "/api/v1/resolve",
        json={"handle": "john_doe", "channel": "x", "user_id": "1"},
        headers=headers,
    ).json()
    assert body["resolved"] is False and body["reason"] == "no_match"
    assert app_client.get("/api/identity/reviews", headers=headers).json()["items"] == []


def test_a_repeated_sender_is_answered_without_the_database(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    """The caller and the answer are both in memory: no statement reaches the database."""
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "rep", "user_id": "77"}])
    assert resolve(api, "rep", user_id="77")["cached"] is False
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        again = resolve(api, "rep", user_id="77")
        assert again["cached"] is True and again["resolved"] is True
        assert statements == []
        new_sender = resolve(api, "someone_new", user_id="78")
        assert new_sender["resolved"] is False and statements  # it asked
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
