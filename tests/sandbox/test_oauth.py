"""OAuth 2.0 + PKCE against the sandbox's X and Mastodon authorization servers."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest
import time_machine

from socialcrm_sandbox.pkce import s256_challenge, verifier_matches

from .flows import (
    AUTHORIZE,
    MASTODON_CLIENT,
    MASTODON_REDIRECT,
    REVOKE,
    TOKEN,
    X_CLIENT,
    X_REDIRECT,
    authorize_params,
    bearer,
    connect_mastodon,
    connect_x,
    exchange,
    get_code,
    make_pkce,
    query_of,
)

X_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


def x_params(scope: str = "tweet.read users.read offline.access") -> tuple[str, dict[str, str]]:
    pkce = make_pkce()
    params = authorize_params(
        "x", pkce, client_id=X_CLIENT[0], redirect_uri=X_REDIRECT, scope=scope
    )
    return pkce.verifier, params


def test_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert s256_challenge(verifier) == challenge
    assert verifier_matches(verifier, challenge)
    assert not verifier_matches(verifier[:-1] + "l", challenge)


def test_consent_page_is_an_accessible_form_carrying_the_request(http: httpx.Client) -> None:
    _, params = x_params()
    page = http.get(AUTHORIZE["x"], params=params)
    assert page.status_code == 200
    html = page.text
    assert '<form method="post" action="/x/i/oauth2/authorize"' in html
    for name, value in params.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    assert '<label for="account">' in html and '<select id="account" name="account"' in html
    assert 'name="decision" value="allow"' in html and 'name="decision" value="deny"' in html
    assert 'value="ada"' in html and 'value="grace"' in html
    assert 'value="babbage"' not in html  # removed accounts cannot sign in


def test_consent_page_escapes_what_it_echoes(http: httpx.Client) -> None:
    _, params = x_params()
    params["state"] = '"><script>alert(1)</script>'
    html = http.get(AUTHORIZE["x"], params=params).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_x_full_flow_issues_bearer_tokens_that_work(http: httpx.Client) -> None:
    verifier, params = x_params()
    code = get_code(http, "x", params)
    answer = exchange(http, "x", code, verifier, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 7200
    assert tokens["scope"] == "tweet.read users.read offline.access"
    assert tokens["refresh_token"] and tokens["access_token"] != tokens["refresh_token"]
    me = http.get("/x/2/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["data"]["username"] == "ada"


def test_x_no_refresh_token_without_offline_access(http: httpx.Client) -> None:
    tokens = connect_x(http, scope="tweet.read users.read")
    assert "refresh_token" not in tokens


def test_x_public_client_authenticates_with_client_id_in_body(http: httpx.Client) -> None:
    pkce = make_pkce()
    params = authorize_params(
        "x", pkce, client_id="test-x-public", redirect_uri=X_REDIRECT, scope="users.read"
    )
    code = get_code(http, "x", params)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": X_REDIRECT,
        "code_verifier": pkce.verifier,
        "client_id": "test-x-public",
    }
    assert http.post(TOKEN["x"], data=form).status_code == 200


def test_deny_redirects_with_access_denied(http: httpx.Client) -> None:
    _, params = x_params()
    answer = http.post(AUTHORIZE["x"], data={**params, "account": "ada", "decision": "deny"})
    assert answer.status_code == 303
    assert query_of(answer.headers["location"]) == {"error": "access_denied", "state": "state-x"}
    assert answer.headers["location"].startswith(X_REDIRECT + "?")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"redirect_uri": X_REDIRECT + "/"}, "redirect_uri"),
        ({"redirect_uri": "http://evil.example/oauth/callback/x"}, "redirect_uri"),
        ({"client_id": "nobody"}, "client_id"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge_method": ""}, "S256"),
        ({"code_challenge": ""}, "code_challenge"),
    ],
)
def test_untrustworthy_requests_get_a_400_page_and_no_redirect(
    http: httpx.Client, change: dict[str, str], reason: str
) -> None:
    _, params = x_params()
    params.update(change)
    for answer in (
        http.get(AUTHORIZE["x"], params=params),
        http.post(AUTHORIZE["x"], data={**params, "account": "ada", "decision": "allow"}),
    ):
        assert answer.status_code == 400
        assert "location" not in answer.headers
        assert reason in answer.text


def test_replayed_code_fails_and_revokes_what_it_issued(http: httpx.Client) -> None:
    verifier, params = x_params()
    code = get_code(http, "x", params)
    first = exchange(http, "x", code, verifier, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert http.get("/x/2/users/me", headers=bearer(access)).status_code == 200

    replay = exchange(http, "x", code, verifier, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    after = http.get("/x/2/users/me", headers=bearer(access))
    assert after.status_code == 401 and after.json() == X_401
    refresh = http.post(
        TOKEN["x"],
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=X_CLIENT,
    )
    assert refresh.status_code == 400


def test_wrong_verifier_is_invalid_grant(http: httpx.Client) -> None:
    _, params = x_params()
    code = get_code(http, "x", params)
    wrong = make_pkce().verifier
    answer = exchange(http, "x", code, wrong, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_token_redirect_uri_must_repeat_the_authorized_one(http: httpx.Client) -> None:
    verifier, params = x_params()
    code = get_code(http, "x", params)
    other = "http://127.0.0.1:8000/oauth/callback/x"  # registered, but not the one authorized
    answer = exchange(http, "x", code, verifier, redirect_uri=other, client=X_CLIENT)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_bad_client_secret_is_invalid_client(http: httpx.Client) -> None:
    verifier, params = x_params()
    code = get_code(http, "x", params)
    answer = exchange(
        http, "x", code, verifier, redirect_uri=X_REDIRECT, client=(X_CLIENT[0], "wrong")
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_code_expires_after_sixty_seconds(http: httpx.Client) -> None:
    verifier, params = x_params()
    with time_machine.travel(time.time(), tick=True) as traveller:
        code = get_code(http, "x", params)
        traveller.shift(timedelta(seconds=61))
        answer = exchange(http, "x", code, verifier, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "expired" in answer.json()["error_description"]


def test_access_token_expires_after_its_ttl(http: httpx.Client) -> None:
    with time_machine.travel(time.time(), tick=True) as traveller:
        tokens = connect_x(http)
        headers = bearer(tokens["access_token"])
        assert http.get("/x/2/users/me", headers=headers).status_code == 200
        traveller.shift(timedelta(seconds=7201))
        expired = http.get("/x/2/users/me", headers=headers)
    assert expired.status_code == 401 and expired.json() == X_401


def test_token_ttl_is_configurable(http: httpx.Client) -> None:
    assert http.post("/_sandbox/config", json={"token_ttl_s": 0}).status_code == 200
    tokens = connect_x(http)
    assert tokens["expires_in"] == 0
    assert http.get("/x/2/users/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_x_refresh_rotates_and_the_old_refresh_token_dies(http: httpx.Client) -> None:
    tokens = connect_x(http)

    def refresh(token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": token}
        return http.post(TOKEN["x"], data=form, auth=X_CLIENT)

    rotated = refresh(tokens["refresh_token"])
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert http.get("/x/2/users/me", headers=bearer(fresh["access_token"])).status_code == 200

    reused = refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh(fresh["refresh_token"]).status_code == 200


def test_x_revoke_kills_access_and_refresh_tokens(http: httpx.Client) -> None:
    tokens = connect_x(http)
    assert http.get("/_sandbox/tokens", params={"network": "x"}).json()["active"] == 2
    answer = http.post(REVOKE["x"], data={"token": tokens["access_token"]}, auth=X_CLIENT)
    assert answer.status_code == 200 and answer.json() == {"revoked": True}
    assert http.get("/x/2/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert http.post(TOKEN["x"], data=form, auth=X_CLIENT).status_code == 400
    counts = http.get("/_sandbox/tokens", params={"network": "x"}).json()
    assert (counts["active"], counts["revoked"]) == (0, 2)


def test_revoking_the_refresh_token_kills_the_access_token(http: httpx.Client) -> None:
    tokens = connect_x(http)
    form = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    assert http.post(REVOKE["x"], data=form, auth=X_CLIENT).status_code == 200
    assert http.get("/x/2/users/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_mastodon_flow_with_client_credentials_in_the_body(http: httpx.Client) -> None:
    pkce = make_pkce()
    params = authorize_params(
        "mastodon", pkce, client_id=MASTODON_CLIENT[0], redirect_uri=MASTODON_REDIRECT, scope="read"
    )
    code = get_code(http, "mastodon", params, account="grace")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": MASTODON_REDIRECT,
        "code_verifier": pkce.verifier,
        "client_id": MASTODON_CLIENT[0],
        "client_secret": MASTODON_CLIENT[1],
    }
    answer = http.post(TOKEN["mastodon"], data=form)
    assert answer.status_code == 200
    tokens = answer.json()
    assert set(tokens) == {"access_token", "token_type", "scope", "created_at"}
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read"
    me = http.get(
        "/mastodon/api/v1/accounts/verify_credentials", headers=bearer(tokens["access_token"])
    )
    assert me.json()["username"] == "grace"


def test_mastodon_revoke_answers_empty_object(http: httpx.Client) -> None:
    tokens = connect_mastodon(http)
    form = {
        "client_id": MASTODON_CLIENT[0],
        "client_secret": MASTODON_CLIENT[1],
        "token": tokens["access_token"],
    }
    answer = http.post(REVOKE["mastodon"], data=form)
    assert answer.status_code == 200 and answer.json() == {}
    me = http.get(
        "/mastodon/api/v1/accounts/verify_credentials", headers=bearer(tokens["access_token"])
    )
    assert me.status_code == 401
    assert me.json() == {"error": "The access token is invalid"}


def test_mastodon_dynamic_app_registration_then_connect(http: httpx.Client) -> None:
    created = http.post(
        "/mastodon/api/v1/apps",
        data={
            "client_name": "CRM",
            "redirect_uris": "http://crm.example/cb\nhttp://crm.example/cb2",
            "scopes": "read write",
            "website": "https://crm.example",
        },
    )
    assert created.status_code == 200
    app = created.json()
    assert {
        "id",
        "name",
        "client_id",
        "client_secret",
        "redirect_uri",
        "redirect_uris",
        "scopes",
    } <= set(app)
    assert app["redirect_uris"] == ["http://crm.example/cb", "http://crm.example/cb2"]
    pkce = make_pkce()
    params = authorize_params(
        "mastodon",
        pkce,
        client_id=app["client_id"],
        redirect_uri="http://crm.example/cb2",
        scope="read",
    )
    code = get_code(http, "mastodon", params)
    answer = exchange(
        http,
        "mastodon",
        code,
        pkce.verifier,
        redirect_uri="http://crm.example/cb2",
        client=(app["client_id"], app["client_secret"]),
    )
    assert answer.status_code == 200
    # Scopes beyond what the app registered are refused back to the client.
    params["scope"] = "admin:read:accounts"
    refused = http.post(
        AUTHORIZE["mastodon"], data={**params, "account": "ada", "decision": "allow"}
    )
    assert query_of(refused.headers["location"])["error"] == "invalid_scope"


def test_sandbox_registered_apps_are_usable(http: httpx.Client) -> None:
    body = {
        "network": "x",
        "client_id": "extra",
        "client_secret": "s3cret",
        "redirect_uris": ["http://a.example/cb"],
    }
    created = http.post("/_sandbox/apps", json=body)
    assert created.status_code == 201 and created.json()["client_id"] == "extra"
    pkce = make_pkce()
    params = authorize_params(
        "x", pkce, client_id="extra", redirect_uri="http://a.example/cb", scope="users.read"
    )
    code = get_code(http, "x", params)
    answer = exchange(
        http,
        "x",
        code,
        pkce.verifier,
        redirect_uri="http://a.example/cb",
        client=("extra", "s3cret"),
    )
    assert answer.status_code == 200
    assert re.fullmatch(r"[A-Za-z0-9_\-]{40,}", answer.json()["access_token"])
