"""The resolve answer an agent reads: preferences, every linked profile, how fresh it is."""

from __future__ import annotations

import json
from datetime import timedelta

import redis
import time_machine
from fastapi.testclient import TestClient

from socialcrm.core.db import Database, utcnow
from socialcrm.identity import cachebus
from tests.identity.conftest import resolve, set_policy
from tests.identity.test_cachebus import wait_until


def create_contact(api: TestClient, **values: object) -> int:
    created = api.post("/api/contacts", json={"name": "John Doe", **values})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_preferences_carry_the_contacts_preferred_channel_and_language(
    api: TestClient, tenant_id: int
) -> None:
    contact_id = create_contact(
        api,
        preferred_channel="SMS",
        language="en_us",
        marketing_consent=True,
        handles=[{"network": "x", "handle": "john_doe", "user_id": "1"}],
    )
    stored = api.get(f"/api/contacts/{contact_id}").json()
    assert (stored["preferred_channel"], stored["language"]) == ("sms", "en-US")
    body = resolve(api, "john_doe", user_id="1")
    assert body["profile_data"]["preferences"] == {
        "preferred_channel": "sms",
        "language": "en-US",
        "marketing_consent": True,
        "enrichment_consent": False,
    }
    changed = api.patch(f"/api/contacts/{contact_id}", json={"language": "es-419"})
    assert changed.status_code == 200 and changed.json()["language"] == "es-419"
    assert resolve(api, "john_doe", user_id="1")["profile_data"]["preferences"]["language"] == (
        "es-419"
    )


def test_unknown_channels_and_languages_are_a_clear_400(api: TestClient) -> None:
    for values in ({"preferred_channel": "pigeon"}, {"language": "English"}, {"language": "e"}):
        response = api.post("/api/contacts", json={"name": "Bad", **values})
        assert response.status_code == 400, values
        assert response.json()["error"]["code"] == "validation_error"


def test_social_graph_lists_every_profile_per_network(api: TestClient, tenant_id: int) -> None:
    create_contact(
        api,
        handles=[
            {"network": "x", "handle": "john_doe", "user_id": "1"},
            {"network": "x", "handle": "johns_shop", "user_id": "2"},
            {"network": "mastodon", "handle": "john@mastodon.social"},
        ],
    )
    graph = resolve(api, "john_doe", user_id="1")["social_graph"]
    assert sorted(graph) == ["mastodon", "x"]
    assert sorted((p["user_id"], p["handle"], p["url"]) for p in graph["x"]) == [
        ("1", "john_doe", "https://x.com/john_doe"),
        ("2", "johns_shop", "https://x.com/johns_shop"),
    ]
    assert graph["mastodon"] == [
        {
            "user_id": None,
            "handle": "john@mastodon.social",
            "url": "https://mastodon.social/@john",
        }
    ]


def test_the_answer_says_when_profile_data_changed_recently(
    api: TestClient, database: Database, tenant_id: int
) -> None:
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        contact_id = create_contact(
            api, handles=[{"network": "x", "handle": "john_doe", "user_id": "1"}]
        )
        clock.shift(timedelta(hours=2))
        fresh = resolve(api, "john_doe", user_id="1")["profile_data"]
        assert fresh["recently_updated"] is True
        assert fresh["profile_updated_at"].startswith(start.isoformat()[:16])

        clock.shift(timedelta(hours=23))  # 25 h: outside the default 24 h
        assert resolve(api, "john_doe", user_id="1")["profile_data"]["recently_updated"] is False
        # A new handle (the graph writes it back on the Contact) is not a profile change.
        renamed = resolve(api, "jd_official", user_id="1")["profile_data"]
        assert renamed["recently_updated"] is False

        edit = api.patch(f"/api/contacts/{contact_id}", json={"preferred_channel": "email"})
        assert edit.is_success
        edited = resolve(api, "jd_official", user_id="1")["profile_data"]
        assert edited["recently_updated"] is True
        assert edited["profile_updated_at"].startswith(utcnow().isoformat()[:16])

        set_policy(api, recently_updated_hours=0)
        clock.shift(timedelta(minutes=1))
        assert resolve(api, "jd_official", user_id="1")["profile_data"]["recently_updated"] is False


def test_editing_a_contact_drops_its_cached_answers(api: TestClient, tenant_id: int) -> None:
    contact_id = create_contact(api, handles=[{"network": "x", "handle": "kay", "user_id": "9"}])
    resolve(api, "kay", user_id="9")
    assert resolve(api, "kay", user_id="9")["cached"] is True
    assert api.patch(f"/api/contacts/{contact_id}", json={"name": "Kay Renamed"}).is_success
    body = resolve(api, "kay", user_id="9")
    assert body["cached"] is False and body["profile_data"]["name"] == "Kay Renamed"
    assert body["profile_data"]["recently_updated"] is True


def test_an_edit_is_published_to_the_other_processes(
    redis_queue: redis.Redis, api: TestClient, tenant_id: int
) -> None:
    contact_id = create_contact(api, handles=[{"network": "x", "handle": "kay", "user_id": "9"}])
    resolve(api, "kay", user_id="9")
    listener = redis_queue.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    listener.subscribe(cachebus.CHANNEL)
    assert wait_until(lambda: listener.get_message(timeout=0.1) is None and listener.subscribed)
    assert api.patch(f"/api/contacts/{contact_id}", json={"tier": "gold"}).is_success
    heard: list[dict[str, object]] = []

    def about_the_contact() -> bool:
        got = listener.get_message(timeout=0.1)
        if got is not None:
            heard.append(json.loads(got["data"]))
        return {"kind": "contact", "what": contact_id} in [
            {"kind": m["kind"], "what": m["what"]} for m in heard
        ]

    assert wait_until(about_the_contact)
    assert all(m["tenant_id"] == tenant_id for m in heard)
    listener.close()
