"""Mastodon emulation: accounts, search, admin email lookup, statuses, notifications, posting."""

from __future__ import annotations

import httpx
import pytest

from .flows import bearer, connect_mastodon

ACCOUNT_FIELDS = {
    "id",
    "username",
    "acct",
    "display_name",
    "note",
    "url",
    "avatar",
    "followers_count",
    "following_count",
    "statuses_count",
    "created_at",
    "fields",
}


@pytest.fixture
def ada(http: httpx.Client) -> dict[str, str]:
    return bearer(connect_mastodon(http)["access_token"])


@pytest.mark.parametrize("acct", ["ada", "ADA", "@ada"])
def test_lookup_by_acct(http: httpx.Client, acct: str) -> None:
    answer = http.get("/mastodon/api/v1/accounts/lookup", params={"acct": acct})
    assert answer.status_code == 200
    account = answer.json()
    assert set(account) >= ACCOUNT_FIELDS
    assert (account["id"], account["username"], account["acct"]) == ("2001", "ada", "ada")
    assert account["url"] == f"{str(http.base_url).rstrip('/')}/mastodon/@ada"
    assert account["statuses_count"] == 1
    assert 'href="https://ada.example.com"' in account["fields"][0]["value"]
    assert account["note"].startswith("<p>Poetical scientist.")


@pytest.mark.parametrize("path", ["/api/v1/accounts/lookup?acct=babbage", "/api/v1/accounts/2003"])
def test_removed_account_is_record_not_found(http: httpx.Client, path: str) -> None:
    answer = http.get(f"/mastodon{path}")
    assert answer.status_code == 404
    assert answer.json() == {"error": "Record not found"}


def test_account_by_id_and_verify_credentials(http: httpx.Client, ada: dict[str, str]) -> None:
    by_id = http.get("/mastodon/api/v1/accounts/2002").json()
    assert by_id["username"] == "grace"
    me = http.get("/mastodon/api/v1/accounts/verify_credentials", headers=ada).json()
    assert me["id"] == "2001"
    missing = http.get("/mastodon/api/v1/accounts/verify_credentials")
    assert missing.status_code == 401
    assert missing.json() == {"error": "The access token is invalid"}


def test_search_matches_name_or_handle_and_skips_removed(http: httpx.Client) -> None:
    def search(q: str) -> list[str]:
        answer = http.get("/mastodon/api/v2/search", params={"q": q, "type": "accounts"}).json()
        assert answer["statuses"] == [] and answer["hashtags"] == []
        return [a["username"] for a in answer["accounts"]]

    assert search("LOVELACE") == ["ada"]
    assert search("alan t") == ["alan"]
    assert search("babb") == []
    assert sorted(search("a")) == ["ada", "alan", "grace"]
    limited = http.get("/mastodon/api/v2/search", params={"q": "a", "limit": 1}).json()
    assert len(limited["accounts"]) == 1


def test_admin_email_lookup_needs_the_admin_scope(http: httpx.Client, ada: dict[str, str]) -> None:
    answer = http.get(
        "/mastodon/api/v1/admin/accounts", params={"email": "ada@example.com"}, headers=ada
    )
    assert answer.status_code == 403
    assert answer.json() == {"error": "This action is not allowed"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_admin_email_lookup_is_a_prefix_match(http: httpx.Client, version: str) -> None:
    """As Mastodon's ``User.matches_email`` (``ILIKE 'value%'``): the caller must compare."""
    admin = bearer(connect_mastodon(http, scope="read admin:read:accounts")["access_token"])

    def lookup(email: str) -> list[dict[str, object]]:
        answer = http.get(
            f"/mastodon/api/{version}/admin/accounts", params={"email": email}, headers=admin
        )
        assert answer.status_code == 200
        found: list[dict[str, object]] = answer.json()
        return found

    found = lookup("Ada@Example.com")
    assert [(a["id"], a["username"], a["email"]) for a in found] == [
        ("2001", "ada", "ada@example.com")
    ]
    assert found[0]["account"]["acct"] == "ada"  # type: ignore[index]
    assert [a["email"] for a in lookup("alan")] == ["alan@example.org", "alan.turing@example.com"]
    assert lookup("grace@example.com") == []  # registered here with another address
    assert lookup("charles@example.com") == []  # removed


def test_admin_email_lookup_needs_the_manage_users_role(http: httpx.Client) -> None:
    """The scope alone is not enough: grace is an ordinary user of the instance."""
    token = connect_mastodon(http, account="grace", scope="read admin:read:accounts")
    answer = http.get(
        "/mastodon/api/v2/admin/accounts",
        params={"email": "ada@example.com"},
        headers=bearer(token["access_token"]),
    )
    assert answer.status_code == 403


def test_a_remote_account_is_found_only_through_webfinger(
    http: httpx.Client, ada: dict[str, str]
) -> None:
    """``accounts/lookup`` skips WebFinger: a remote account the instance has not met is a
    404 there until a search with ``resolve=true`` (and a user token) fetches it."""
    acct = "katherine@remote.example"
    lookup = "/mastodon/api/v1/accounts/lookup"
    assert http.get(lookup, params={"acct": acct}).status_code == 404
    plain = http.get("/mastodon/api/v2/search", params={"q": acct, "type": "accounts"}, headers=ada)
    assert plain.json()["accounts"] == []
    anonymous = http.get("/mastodon/api/v2/search", params={"q": acct, "resolve": "true"})
    assert anonymous.json()["accounts"] == []
    resolved = http.get(
        "/mastodon/api/v2/search",
        params={"q": f"@{acct}", "type": "accounts", "resolve": "true"},
        headers=ada,
    ).json()["accounts"]
    assert [(a["id"], a["username"], a["acct"]) for a in resolved] == [("2005", "katherine", acct)]
    assert resolved[0]["url"] == "https://remote.example/@katherine"
    assert http.get(lookup, params={"acct": acct}).json()["id"] == "2005"  # known now


def test_statuses_are_public_only_newest_first(http: httpx.Client) -> None:
    answer = http.get("/mastodon/api/v1/accounts/2002/statuses")
    statuses = answer.json()
    assert [s["id"] for s in statuses] == ["9105", "9104", "9103"]
    own = http.get("/mastodon/api/v1/accounts/2001/statuses").json()
    assert [s["id"] for s in own] == ["9101"]  # 9102 is private
    reply = statuses[2]
    assert reply["in_reply_to_id"] == "9101"
    assert reply["mentions"] == [
        {"id": "2001", "username": "ada", "acct": "ada", "url": own[0]["account"]["url"]}
    ]
    assert 'class="u-url mention"' in reply["content"]
    paged = http.get(
        "/mastodon/api/v1/accounts/2002/statuses", params={"max_id": "9105", "limit": 1}
    )
    assert [s["id"] for s in paged.json()] == ["9104"]


def test_notifications_since_a_cursor_with_link_header(
    http: httpx.Client, ada: dict[str, str]
) -> None:
    answer = http.get("/mastodon/api/v1/notifications", params={"types[]": "mention"}, headers=ada)
    notes = answer.json()
    assert [n["id"] for n in notes] == ["9105", "9103"]  # 9106 is by a removed account
    assert {n["type"] for n in notes} == {"mention"}
    assert notes[0]["status"]["id"] == "9105" and notes[0]["account"]["username"] == "grace"
    link = answer.headers["link"]
    assert 'max_id=9103>; rel="next"' in link and 'min_id=9105>; rel="prev"' in link
    assert "types%5B%5D=mention" in link

    http.post(
        "/_sandbox/posts", json={"network": "mastodon", "author_handle": "alan", "text": "cc @ada"}
    )
    newer = http.get(
        "/mastodon/api/v1/notifications", params={"since_id": "9105"}, headers=ada
    ).json()
    assert len(newer) == 1 and newer[0]["account"]["username"] == "alan"
    assert int(newer[0]["id"]) > 9105
    follows = http.get("/mastodon/api/v1/notifications", params={"types[]": "follow"}, headers=ada)
    assert follows.json() == []


def test_post_reply_and_read_back(http: httpx.Client, ada: dict[str, str]) -> None:
    created = http.post("/mastodon/api/v1/statuses", data={"status": "Fresh toot"}, headers=ada)
    assert created.status_code == 200
    status = created.json()
    assert status["visibility"] == "public" and status["content"] == "<p>Fresh toot</p>"
    assert http.get(f"/mastodon/api/v1/statuses/{status['id']}").json()["id"] == status["id"]

    reply = http.post(
        "/mastodon/api/v1/statuses",
        json={"status": "@grace agreed", "in_reply_to_id": "9104"},
        headers=ada,
    ).json()
    assert reply["in_reply_to_id"] == "9104"
    parent = http.get("/mastodon/api/v1/statuses/9104").json()
    assert parent["replies_count"] == 1
    logged = http.get("/_sandbox/posts", params={"network": "mastodon"}).json()
    assert [p["id"] for p in logged] == [status["id"], reply["id"]]


def test_direct_status_is_a_dm_and_never_readable(http: httpx.Client, ada: dict[str, str]) -> None:
    created = http.post(
        "/mastodon/api/v1/statuses",
        data={"status": "@grace psst", "visibility": "direct"},
        headers=ada,
    )
    assert created.status_code == 200
    status_id = created.json()["id"]
    assert created.json()["visibility"] == "direct"
    dms = http.get("/_sandbox/dms", params={"network": "mastodon"}).json()
    assert [(d["sender_handle"], d["recipient_handle"], d["text"]) for d in dms] == [
        ("ada", "grace", "@grace psst")
    ]
    assert http.get(f"/mastodon/api/v1/statuses/{status_id}").status_code == 404
    timeline = http.get("/mastodon/api/v1/accounts/2001/statuses").json()
    assert status_id not in [s["id"] for s in timeline]


def test_private_status_is_not_found(http: httpx.Client) -> None:
    assert http.get("/mastodon/api/v1/statuses/9102").status_code == 404


def test_status_validation_errors(http: httpx.Client, ada: dict[str, str]) -> None:
    empty = http.post("/mastodon/api/v1/statuses", data={"status": " "}, headers=ada)
    assert empty.status_code == 422 and empty.json()["error"].startswith("Validation failed")
    orphan = http.post(
        "/mastodon/api/v1/statuses", data={"status": "hi", "in_reply_to_id": "9102"}, headers=ada
    )
    assert orphan.status_code == 404
