"""Client-side steps the tests repeat: PKCE pairs, the OAuth dance, Bluesky logins."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

X_CLIENT = ("test-x-client", "test-x-secret")
MASTODON_CLIENT = ("test-mastodon-client", "test-mastodon-secret")
X_REDIRECT = "http://testserver/oauth/callback/x"
MASTODON_REDIRECT = "http://testserver/oauth/callback/mastodon"
AUTHORIZE = {"x": "/x/i/oauth2/authorize", "mastodon": "/mastodon/oauth/authorize"}
TOKEN = {"x": "/x/2/oauth2/token", "mastodon": "/mastodon/oauth/token"}
REVOKE = {"x": "/x/2/oauth2/revoke", "mastodon": "/mastodon/oauth/revoke"}
ADA_DID = "did:plc:ada0000000000000000001"
GRACE_DID = "did:plc:grace000000000000000002"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def make_pkce() -> Pkce:
    """Computed here independently of the sandbox's own PKCE code."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).decode().rstrip("="))


def authorize_params(
    network: str, pkce: Pkce, *, client_id: str, redirect_uri: str, scope: str
) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": f"state-{network}",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(http: httpx.Client, network: str, params: dict[str, str], account: str = "ada") -> str:
    """Submit the consent form headlessly and return the code from the 303 redirect."""
    answer = http.post(AUTHORIZE[network], data={**params, "account": account, "decision": "allow"})
    assert answer.status_code == 303, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == params["state"]
    return query["code"]


def exchange(
    http: httpx.Client,
    network: str,
    code: str,
    verifier: str,
    *,
    redirect_uri: str,
    client: tuple[str, str],
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return http.post(TOKEN[network], data=form, auth=client)


def connect_x(
    http: httpx.Client, account: str = "ada", scope: str = "tweet.read users.read offline.access"
) -> dict[str, Any]:
    pkce = make_pkce()
    params = authorize_params(
        "x", pkce, client_id=X_CLIENT[0], redirect_uri=X_REDIRECT, scope=scope
    )
    code = get_code(http, "x", params, account)
    answer = exchange(http, "x", code, pkce.verifier, redirect_uri=X_REDIRECT, client=X_CLIENT)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def connect_mastodon(
    http: httpx.Client, account: str = "ada", scope: str = "read write"
) -> dict[str, Any]:
    pkce = make_pkce()
    params = authorize_params(
        "mastodon", pkce, client_id=MASTODON_CLIENT[0], redirect_uri=MASTODON_REDIRECT, scope=scope
    )
    code = get_code(http, "mastodon", params, account)
    answer = exchange(
        http,
        "mastodon",
        code,
        pkce.verifier,
        redirect_uri=MASTODON_REDIRECT,
        client=MASTODON_CLIENT,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bsky_login(
    http: httpx.Client, identifier: str = "ada.bsky.social", password: str = "app-password"
) -> dict[str, Any]:
    answer = http.post(
        "/bsky/xrpc/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    assert answer.status_code == 200, answer.text
    session: dict[str, Any] = answer.json()
    return session
