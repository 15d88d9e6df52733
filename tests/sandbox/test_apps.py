"""Registering OAuth apps through the control plane, as a developer portal allows."""

from __future__ import annotations

import httpx


def register(http: httpx.Client, secret: str, uri: str) -> httpx.Response:
    return http.post(
        "/_sandbox/apps",
        json={
            "network": "x",
            "client_id": "portal-app",
            "client_secret": secret,
            "redirect_uris": [uri],
        },
    )


def test_the_owner_adds_redirect_uris_and_a_stranger_cannot(http: httpx.Client) -> None:
    first = register(http, "portal-secret", "http://127.0.0.1:8000/oauth/callback/x")
    assert first.status_code == 201
    again = register(http, "portal-secret", "http://127.0.0.1:9000/oauth/callback/x")
    assert again.status_code == 200
    assert again.json()["redirect_uris"] == [
        "http://127.0.0.1:8000/oauth/callback/x",
        "http://127.0.0.1:9000/oauth/callback/x",
    ]
    stranger = register(http, "guessed-secret", "https://evil.example/cb")
    assert stranger.status_code == 409
    assert stranger.json()["error"]["code"] == "conflict"
