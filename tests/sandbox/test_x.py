"""X API v2 emulation: lookups, timelines, mentions, publishing, replies and DMs."""

from __future__ import annotations

import httpx
import pytest

from .flows import bearer, connect_x

NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"


@pytest.fixture
def ada(http: httpx.Client) -> dict[str, str]:
    return bearer(connect_x(http)["access_token"])


def test_user_by_username_has_the_contract_fields(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.get("/x/2/users/by/username/ADA", headers=ada)  # case-insensitive
    assert answer.status_code == 200
    user = answer.json()["data"]
    assert user["id"] == "1001" and user["username"] == "ada" and user["name"] == "Ada"
    assert user["verified"] is False
    assert user["location"] == "London"
    assert user["created_at"] == "2015-01-01T00:00:00.000Z"
    assert user["public_metrics"] == {
        "followers_count": 1200,
        "following_count": 80,
        "tweet_count": 1,  # the private draft does not count
        "listed_count": 0,
    }
    assert [u["expanded_url"] for u in user["entities"]["url"]["urls"]] == [
        "https://ada.example.com"
    ]


def test_user_by_id_matches_lookup_by_username(http: httpx.Client, ada: dict[str, str]) -> None:
    by_id = http.get("/x/2/users/1002", headers=ada).json()
    by_name = http.get("/x/2/users/by/username/grace", headers=ada).json()
    assert by_id == by_name and by_id["data"]["username"] == "grace"


@pytest.mark.parametrize("username", ["babbage", "nobody_here"])
def test_removed_or_unknown_username_is_200_with_errors(
    http: httpx.Client, ada: dict[str, str], username: str
) -> None:
    answer = http.get(f"/x/2/users/by/username/{username}", headers=ada)
    assert answer.status_code == 200
    assert answer.json() == {
        "errors": [
            {
                "value": username,
                "detail": f"Could not find user with username: [{username}].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": username,
                "type": NOT_FOUND_TYPE,
            }
        ]
    }


def test_removed_user_by_id_is_200_with_id_errors(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.get("/x/2/users/1003", headers=ada)
    assert answer.status_code == 200
    error = answer.json()["errors"][0]
    assert error["parameter"] == "id"
    assert error["detail"] == "Could not find user with id: [1003]."
    assert "data" not in answer.json()


def test_every_call_needs_a_valid_bearer(http: httpx.Client) -> None:
    for headers in ({}, bearer("made-up")):
        answer = http.get("/x/2/users/by/username/ada", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["title"] == "Unauthorized"


def test_invalid_username_and_max_results_are_400(http: httpx.Client, ada: dict[str, str]) -> None:
    assert http.get("/x/2/users/by/username/@ada", headers=ada).status_code == 400
    answer = http.get("/x/2/users/1001/tweets", params={"max_results": 2}, headers=ada)
    assert answer.status_code == 400
    assert answer.json()["title"] == "Invalid Request"


def test_user_tweets_never_include_private_posts(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.get("/x/2/users/1001/tweets", headers=ada).json()
    assert [t["id"] for t in answer["data"]] == ["9001"]
    assert "Private draft" not in str(answer)
    assert answer["meta"] == {"result_count": 1, "newest_id": "9001", "oldest_id": "9001"}


def test_mentions_newest_first_without_private_or_removed(
    http: httpx.Client, ada: dict[str, str]
) -> None:
    answer = http.get("/x/2/users/1001/mentions", headers=ada).json()
    ids = [t["id"] for t in answer["data"]]
    assert ids == ["9004", "9003"]  # 9005 is private, 9006 is by a removed account
    reply = answer["data"][1]
    assert reply["in_reply_to_user_id"] == "1001"
    assert reply["conversation_id"] == "9001"
    assert set(reply["public_metrics"]) == {
        "retweet_count",
        "reply_count",
        "like_count",
        "quote_count",
        "impression_count",
    }


def test_mentions_since_a_cursor(http: httpx.Client, ada: dict[str, str]) -> None:
    newer = http.get("/x/2/users/1001/mentions", params={"since_id": "9003"}, headers=ada).json()
    assert [t["id"] for t in newer["data"]] == ["9004"]
    none = http.get("/x/2/users/1001/mentions", params={"since_id": "9004"}, headers=ada).json()
    assert none == {"meta": {"result_count": 0}}
    posted = http.post(
        "/_sandbox/posts", json={"network": "x", "author_handle": "grace", "text": "hey @Ada!"}
    ).json()
    assert int(posted["id"]) > 9006  # ids grow past every id in the world
    latest = http.get("/x/2/users/1001/mentions", params={"since_id": "9004"}, headers=ada).json()
    assert [t["id"] for t in latest["data"]] == [posted["id"]]
    assert latest["meta"]["newest_id"] == posted["id"]


def test_mentions_paginate_with_next_token(http: httpx.Client, ada: dict[str, str]) -> None:
    made = [
        http.post(
            "/_sandbox/posts", json={"network": "x", "author_handle": "grace", "text": f"@ada {i}"}
        ).json()["id"]
        for i in range(6)
    ]
    first = http.get("/x/2/users/1001/mentions", params={"max_results": 5}, headers=ada).json()
    assert [t["id"] for t in first["data"]] == list(reversed(made))[:5]
    token = first["meta"]["next_token"]
    rest = http.get(
        "/x/2/users/1001/mentions",
        params={"max_results": 5, "pagination_token": token},
        headers=ada,
    ).json()
    assert [t["id"] for t in rest["data"]] == [made[0], "9004", "9003"]
    assert "next_token" not in rest["meta"]


def test_publish_then_read_back(http: httpx.Client, ada: dict[str, str]) -> None:
    created = http.post("/x/2/tweets", json={"text": "Shipping the engine"}, headers=ada)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["text"] == "Shipping the engine"
    tweet = http.get(f"/x/2/tweets/{data['id']}", headers=ada).json()["data"]
    assert tweet["author_id"] == "1001" and tweet["conversation_id"] == data["id"]
    assert "in_reply_to_user_id" not in tweet
    logged = http.get("/_sandbox/posts", params={"network": "x"}).json()
    assert [p["id"] for p in logged] == [data["id"]]


def test_a_repeated_tweet_is_refused_as_duplicate_content(
    http: httpx.Client, ada: dict[str, str]
) -> None:
    assert http.post("/x/2/tweets", json={"text": "Once"}, headers=ada).status_code == 201
    again = http.post("/x/2/tweets", json={"text": "Once"}, headers=ada)
    assert again.status_code == 403
    assert "duplicate content" in again.json()["detail"]
    assert http.post("/x/2/tweets", json={"text": "Twice"}, headers=ada).status_code == 201


def test_a_late_fault_applies_the_call_then_fails_or_loses_the_answer(
    http: httpx.Client, ada: dict[str, str]
) -> None:
    """What a real network does now and then: the post is created, the answer is an error
    (or never arrives), so a client cannot tell whether it was published."""
    fault = {"network": "x", "endpoint": "publish", "status": 503, "after": True}
    http.post("/_sandbox/faults", json=fault).raise_for_status()
    failed = http.post("/x/2/tweets", json={"text": "Lost answer"}, headers=ada)
    assert failed.status_code == 503
    assert failed.json()["title"] == "Service Unavailable"
    assert "x-rate-limit-remaining" in failed.headers
    lost = {**fault, "status": 200, "latency_ms": 1500}
    http.post("/_sandbox/faults", json=lost).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        http.post("/x/2/tweets", json={"text": "Timed out"}, headers=ada, timeout=0.3)
    posted = http.get("/_sandbox/posts", params={"network": "x"}).json()
    assert sorted(p["text"] for p in posted) == ["Lost answer", "Timed out"]


def test_reply_lands_in_the_parent_authors_mentions(http: httpx.Client) -> None:
    grace = bearer(connect_x(http, account="grace")["access_token"])
    body = {"text": "replying without a handle", "reply": {"in_reply_to_tweet_id": "9001"}}
    created = http.post("/x/2/tweets", json=body, headers=grace)
    assert created.status_code == 201
    reply_id = created.json()["data"]["id"]
    tweet = http.get(f"/x/2/tweets/{reply_id}", headers=grace).json()["data"]
    assert tweet["in_reply_to_user_id"] == "1001" and tweet["conversation_id"] == "9001"
    parent = http.get("/x/2/tweets/9001", headers=grace).json()["data"]
    assert parent["public_metrics"]["reply_count"] == 2
    mentions = http.get("/x/2/users/1001/mentions", headers=grace).json()
    assert mentions["data"][0]["id"] == reply_id


def test_reply_to_a_private_tweet_is_refused(http: httpx.Client, ada: dict[str, str]) -> None:
    body = {"text": "hi", "reply": {"in_reply_to_tweet_id": "9005"}}
    answer = http.post("/x/2/tweets", json=body, headers=ada)
    assert answer.status_code == 403


def test_private_and_missing_tweets_are_not_found(http: httpx.Client, ada: dict[str, str]) -> None:
    for tweet_id in ("9002", "9006", "123"):
        answer = http.get(f"/x/2/tweets/{tweet_id}", headers=ada)
        assert answer.status_code == 200
        assert answer.json()["errors"][0]["resource_type"] == "tweet"


def test_metrics_come_from_the_world(http: httpx.Client, ada: dict[str, str]) -> None:
    metrics = http.get("/x/2/tweets/9001", headers=ada).json()["data"]["public_metrics"]
    assert metrics == {
        "retweet_count": 7,
        "reply_count": 1,
        "like_count": 42,
        "quote_count": 1,
        "impression_count": 1500,
    }


def test_dm_is_recorded(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.post(
        "/x/2/dm_conversations/with/1002/messages", json={"text": "coffee?"}, headers=ada
    )
    assert answer.status_code == 201
    data = answer.json()["data"]
    assert data["dm_conversation_id"] == "1001-1002"
    dms = http.get("/_sandbox/dms").json()
    assert len(dms) == 1
    assert dms[0] | {"created_at": None} == {
        "id": data["dm_event_id"],
        "network": "x",
        "conversation_id": "1001-1002",
        "sender_id": "1001",
        "sender_handle": "ada",
        "recipient_id": "1002",
        "recipient_handle": "grace",
        "text": "coffee?",
        "created_at": None,
    }


def test_dm_to_removed_account_is_refused(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.post(
        "/x/2/dm_conversations/with/1003/messages", json={"text": "hello?"}, headers=ada
    )
    assert answer.status_code == 400
    assert http.get("/_sandbox/dms").json() == []


def test_a_dm_conversation_reads_back_newest_first(http: httpx.Client, ada: dict[str, str]) -> None:
    for text in ("first", "second"):
        http.post("/x/2/dm_conversations/with/1002/messages", json={"text": text}, headers=ada)
    http.post("/x/2/dm_conversations/with/1003/messages", json={"text": "elsewhere"}, headers=ada)
    events = http.get(
        "/x/2/dm_conversations/with/1002/dm_events", params={"max_results": 1}, headers=ada
    ).json()
    assert [(e["text"], e["sender_id"], e["event_type"]) for e in events["data"]] == [
        ("second", "1001", "MessageCreate")
    ]
    empty = http.get("/x/2/dm_conversations/with/1004/dm_events", headers=ada).json()
    assert empty == {"meta": {"result_count": 0}}


def test_a_reply_names_the_tweet_it_replies_to(http: httpx.Client, ada: dict[str, str]) -> None:
    body = {"text": "a reply", "reply": {"in_reply_to_tweet_id": "9001"}}
    reply_id = http.post("/x/2/tweets", json=body, headers=ada).json()["data"]["id"]
    tweet = http.get(f"/x/2/tweets/{reply_id}", headers=ada).json()["data"]
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": "9001"}]
