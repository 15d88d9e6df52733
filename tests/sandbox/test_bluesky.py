"""Bluesky emulation: app-password sessions, AppView reads, notifications, records, chat."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from .flows import ADA_DID, GRACE_DID, bearer, bsky_login

X = "/bsky/xrpc"
PROFILE_FIELDS = {
    "did",
    "handle",
    "displayName",
    "description",
    "avatar",
    "followersCount",
    "followsCount",
    "postsCount",
    "createdAt",
    "indexedAt",
}


def xrpc(http: httpx.Client, nsid: str, token: str | None = None, **params: Any) -> httpx.Response:
    return http.get(f"{X}/{nsid}", params=params, headers=bearer(token) if token else {})


def test_create_session_with_the_default_app_password(http: httpx.Client) -> None:
    session = bsky_login(http)
    assert session["did"] == ADA_DID and session["handle"] == "ada.bsky.social"
    assert session["active"] is True
    claims = session["accessJwt"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["sub"] == ADA_DID and decoded["exp"] > decoded["iat"]


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        (ADA_DID, "app-password"),
        ("ada@example.com", "app-password"),
        ("grace.bsky.social", "grace-app-pass"),
    ],
)
def test_login_identifiers_and_custom_app_passwords(
    http: httpx.Client, identifier: str, password: str
) -> None:
    assert bsky_login(http, identifier, password)["accessJwt"]


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("ada.bsky.social", "wrong"),
        ("grace.bsky.social", "app-password"),
        ("babbage.bsky.social", "app-password"),
    ],
)
def test_bad_logins_are_authentication_required(
    http: httpx.Client, identifier: str, password: str
) -> None:
    answer = http.post(
        f"{X}/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "AuthenticationRequired"


def test_refresh_session_rotates_and_the_old_refresh_jwt_dies(http: httpx.Client) -> None:
    session = bsky_login(http)
    refresh = http.post(
        f"{X}/com.atproto.server.refreshSession", headers=bearer(session["refreshJwt"])
    )
    assert refresh.status_code == 200
    fresh = refresh.json()
    assert set(fresh) >= {"did", "handle", "accessJwt", "refreshJwt"}
    assert fresh["refreshJwt"] != session["refreshJwt"]
    assert xrpc(http, "com.atproto.server.getSession", fresh["accessJwt"]).json() == {
        "did": ADA_DID,
        "handle": "ada.bsky.social",
    }
    reused = http.post(
        f"{X}/com.atproto.server.refreshSession", headers=bearer(session["refreshJwt"])
    )
    assert reused.status_code == 401 and reused.json()["error"] == "InvalidToken"
    # an access token cannot refresh
    wrong_kind = http.post(
        f"{X}/com.atproto.server.refreshSession", headers=bearer(fresh["accessJwt"])
    )
    assert wrong_kind.status_code == 401


def test_delete_session_revokes_it(http: httpx.Client) -> None:
    session = bsky_login(http)
    answer = http.post(
        f"{X}/com.atproto.server.deleteSession", headers=bearer(session["refreshJwt"])
    )
    assert answer.status_code == 200
    assert xrpc(http, "com.atproto.server.getSession", session["accessJwt"]).status_code == 401
    again = http.post(
        f"{X}/com.atproto.server.refreshSession", headers=bearer(session["refreshJwt"])
    )
    assert again.status_code == 401
    assert http.get("/_sandbox/tokens", params={"network": "bluesky"}).json()["active"] == 0


def test_expired_access_token_is_400_expired_token(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"token_ttl_s": 0})
    session = bsky_login(http)
    answer = xrpc(http, "com.atproto.server.getSession", session["accessJwt"])
    assert answer.status_code == 400 and answer.json()["error"] == "ExpiredToken"
    assert xrpc(http, "com.atproto.server.getSession").json()["error"] == "AuthenticationRequired"


def test_resolve_handle_and_get_profile(http: httpx.Client) -> None:
    assert xrpc(http, "com.atproto.identity.resolveHandle", handle="ada.bsky.social").json() == {
        "did": ADA_DID
    }
    by_handle = xrpc(http, "app.bsky.actor.getProfile", actor="ada.bsky.social").json()
    by_did = xrpc(http, "app.bsky.actor.getProfile", actor=ADA_DID).json()
    assert by_handle == by_did
    assert set(by_did) == PROFILE_FIELDS
    assert by_did["postsCount"] == 1 and by_did["followersCount"] == 450
    assert "avatar" not in xrpc(http, "app.bsky.actor.getProfile", actor=GRACE_DID).json()


@pytest.mark.parametrize(
    ("nsid", "params", "message"),
    [
        ("app.bsky.actor.getProfile", {"actor": "babbage.bsky.social"}, "Profile not found"),
        (
            "app.bsky.actor.getProfile",
            {"actor": "did:plc:babbage000000000000003"},
            "Profile not found",
        ),
        ("app.bsky.actor.getProfile", {"actor": "nobody.bsky.social"}, "Profile not found"),
        (
            "com.atproto.identity.resolveHandle",
            {"handle": "babbage.bsky.social"},
            "Unable to resolve handle",
        ),
        ("app.bsky.feed.getAuthorFeed", {"actor": "babbage.bsky.social"}, "Profile not found"),
    ],
)
def test_removed_and_unknown_are_invalid_request(
    http: httpx.Client, nsid: str, params: dict[str, str], message: str
) -> None:
    answer = xrpc(http, nsid, **params)
    assert answer.status_code == 400
    assert answer.json() == {"error": "InvalidRequest", "message": message}


def test_search_actors(http: httpx.Client) -> None:
    found = xrpc(http, "app.bsky.actor.searchActors", q="HOPPER").json()
    assert [a["handle"] for a in found["actors"]] == ["grace.bsky.social"]
    assert xrpc(http, "app.bsky.actor.searchActors", q="babbage").json() == {"actors": []}
    first = xrpc(http, "app.bsky.actor.searchActors", q="bsky", limit=1).json()
    assert len(first["actors"]) == 1 and first["cursor"] == "1"
    second = xrpc(
        http, "app.bsky.actor.searchActors", q="bsky", limit=1, cursor=first["cursor"]
    ).json()
    assert second["actors"] != first["actors"] and "cursor" not in second


def test_author_feed_is_public_only_with_uris_and_reply_refs(http: httpx.Client) -> None:
    feed = xrpc(http, "app.bsky.feed.getAuthorFeed", actor="grace.bsky.social").json()["feed"]
    posts = [item["post"] for item in feed]
    assert [p["record"]["text"] for p in posts] == [
        "Reading @ada.bsky.social on engines.",
        "Welcome aboard!",
    ]
    for post in posts:
        assert re.fullmatch(rf"at://{GRACE_DID}/app\.bsky\.feed\.post/[2-7a-z]{{13}}", post["uri"])
        assert post["cid"].startswith("bafyrei")
        assert post["record"]["$type"] == "app.bsky.feed.post"
    ada_post = xrpc(http, "app.bsky.feed.getAuthorFeed", actor=ADA_DID).json()["feed"]
    assert len(ada_post) == 1  # the private note never shows
    reply = posts[1]["record"]["reply"]
    assert (
        reply["parent"]
        == reply["root"]
        == {"uri": ada_post[0]["post"]["uri"], "cid": ada_post[0]["post"]["cid"]}
    )
    assert ada_post[0]["post"]["replyCount"] == 1


def test_author_feed_cursor(http: httpx.Client) -> None:
    first = xrpc(http, "app.bsky.feed.getAuthorFeed", actor="grace.bsky.social", limit=1).json()
    assert len(first["feed"]) == 1 and "cursor" in first
    rest = xrpc(
        http,
        "app.bsky.feed.getAuthorFeed",
        actor="grace.bsky.social",
        limit=1,
        cursor=first["cursor"],
    ).json()
    assert rest["feed"][0]["post"]["record"]["text"] == "Welcome aboard!"
    assert "cursor" not in rest


def test_notifications_mentions_and_replies(http: httpx.Client) -> None:
    token = bsky_login(http)["accessJwt"]
    notes = xrpc(http, "app.bsky.notification.listNotifications", token).json()["notifications"]
    assert [(n["reason"], n["record"]["text"]) for n in notes] == [
        ("mention", "Reading @ada.bsky.social on engines."),
        ("reply", "Welcome aboard!"),
    ]  # the removed account's mention never shows
    assert notes[0]["author"]["did"] == GRACE_DID and notes[0]["isRead"] is False
    only = xrpc(http, "app.bsky.notification.listNotifications", token, reasons="reply").json()
    assert [n["reason"] for n in only["notifications"]] == ["reply"]
    assert xrpc(http, "app.bsky.notification.listNotifications").status_code == 401


def test_create_post_and_reply_then_read_back(http: httpx.Client) -> None:
    session = bsky_login(http)
    headers = bearer(session["accessJwt"])
    record = {
        "$type": "app.bsky.feed.post",
        "text": "hello @grace.bsky.social",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }
    created = http.post(
        f"{X}/com.atproto.repo.createRecord",
        json={"repo": ADA_DID, "collection": "app.bsky.feed.post", "record": record},
        headers=headers,
    )
    assert created.status_code == 200
    ref = created.json()
    assert ref["uri"].startswith(f"at://{ADA_DID}/app.bsky.feed.post/")

    grace = bearer(bsky_login(http, "grace.bsky.social", "grace-app-pass")["accessJwt"])
    reply_record = {
        "$type": "app.bsky.feed.post",
        "text": "hi back",
        "createdAt": "2026-01-01T00:00:01.000Z",
        "reply": {"root": ref, "parent": ref},
    }
    reply = http.post(
        f"{X}/com.atproto.repo.createRecord",
        json={
            "repo": "grace.bsky.social",
            "collection": "app.bsky.feed.post",
            "record": reply_record,
        },
        headers=grace,
    )
    assert reply.status_code == 200

    posts = http.get(
        f"{X}/app.bsky.feed.getPosts",
        params=[
            ("uris", ref["uri"]),
            ("uris", reply.json()["uri"]),
            ("uris", "at://did:plc:nobody/app.bsky.feed.post/2222222222222"),
        ],
    ).json()["posts"]
    assert [p["uri"] for p in posts] == [ref["uri"], reply.json()["uri"]]
    assert posts[0]["cid"] == ref["cid"] and posts[0]["replyCount"] == 1
    assert posts[1]["record"]["reply"]["parent"] == ref
    mention = xrpc(
        http, "app.bsky.notification.listNotifications", grace["Authorization"].split()[1]
    ).json()
    assert mention["notifications"][0]["uri"] == ref["uri"]
    logged = http.get("/_sandbox/posts", params={"network": "bluesky"}).json()
    assert [p["uri"] for p in logged] == [ref["uri"], reply.json()["uri"]]


def test_create_record_in_someone_elses_repo_is_refused(http: httpx.Client) -> None:
    headers = bearer(bsky_login(http)["accessJwt"])
    body = {"repo": GRACE_DID, "collection": "app.bsky.feed.post", "record": {"text": "x"}}
    assert (
        http.post(f"{X}/com.atproto.repo.createRecord", json=body, headers=headers).status_code
        == 401
    )


def test_private_posts_are_not_returned_by_get_posts(http: httpx.Client) -> None:
    private_uri = http.post(
        "/_sandbox/posts",
        json={
            "network": "bluesky",
            "author_handle": "ada.bsky.social",
            "text": "secret",
            "public": False,
        },
    ).json()["uri"]
    assert http.get(f"{X}/app.bsky.feed.getPosts", params={"uris": private_uri}).json() == {
        "posts": []
    }


def test_chat_conversation_and_message(http: httpx.Client) -> None:
    headers = bearer(bsky_login(http)["accessJwt"])
    convo = http.get(
        f"{X}/chat.bsky.convo.getConvoForMembers", params={"members": GRACE_DID}, headers=headers
    )
    assert convo.status_code == 200
    convo_json = convo.json()["convo"]
    assert {m["did"] for m in convo_json["members"]} == {ADA_DID, GRACE_DID}
    again = http.get(
        f"{X}/chat.bsky.convo.getConvoForMembers", params={"members": GRACE_DID}, headers=headers
    )
    assert again.json()["convo"]["id"] == convo_json["id"]
    sent = http.post(
        f"{X}/chat.bsky.convo.sendMessage",
        json={"convoId": convo_json["id"], "message": {"text": "hey"}},
        headers=headers,
    )
    assert sent.status_code == 200
    message = sent.json()
    assert (
        message["text"] == "hey"
        and message["sender"] == {"did": ADA_DID}
        and message["sentAt"].endswith("Z")
    )
    dms = http.get("/_sandbox/dms", params={"network": "bluesky"}).json()
    assert [(d["recipient_id"], d["conversation_id"]) for d in dms] == [
        (GRACE_DID, convo_json["id"])
    ]
    unknown = http.post(
        f"{X}/chat.bsky.convo.sendMessage",
        json={"convoId": "nope", "message": {"text": "x"}},
        headers=headers,
    )
    assert unknown.status_code == 400


def test_unknown_method_is_not_implemented(http: httpx.Client) -> None:
    answer = http.get(f"{X}/app.bsky.feed.getTimeline")
    assert answer.status_code == 501 and answer.json()["error"] == "MethodNotImplemented"
