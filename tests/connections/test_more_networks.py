"""Connecting LinkedIn, Facebook Pages, Instagram, YouTube and TikTok accounts through the
CRM's own connect flow (start, consent at the sandbox network, callback, disconnect)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from socialcrm.providers.base import Capability
from socialcrm.providers.registry import PROVIDERS
from socialcrm.sandbox.testing import RunningSandbox

from .flow import connect, register_app

ACCOUNTS = [
    ("linkedin", "ada-lovelace", "urn:li:person:adaLv9x"),
    ("facebook", "analyticalengines", "104000000001"),
    ("instagram", "ada.lovelace", "17841400000000001"),
    ("youtube", "adalovelace", "UCada0000000000000000000"),
    ("tiktok", "ada.codes", "ada-open-id-0001"),
]


@pytest.mark.parametrize(("network", "handle", "user_id"), ACCOUNTS)
def test_connect_and_disconnect(
    api: TestClient, sandbox: RunningSandbox, network: str, handle: str, user_id: str
) -> None:
    register_app(api, network)
    account = connect(api, network, handle)
    assert (account["provider"], account["external_user_id"], account["status"]) == (
        network,
        user_id,
        "active",
    )
    gone = api.delete(f"/api/connections/{account['id']}")
    assert gone.status_code == 200, gone.text
    assert api.get(f"/api/connections/{account['id']}").json()["status"] == "revoked"
    # At the network: revoked where its API can revoke (Instagram's cannot: it simply expires).
    tokens = sandbox.control.get("/tokens", params={"network": network}).json()
    can_revoke = Capability.REVOKE in PROVIDERS[network].capabilities
    assert (tokens["revoked"] > 0) == can_revoke, tokens
