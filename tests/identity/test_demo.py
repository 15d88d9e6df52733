"""``socialcrm serve --demo``, run for real: the demo's customers resolve at once, without
running ``socialcrm identity sync`` first."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.test_cli import free_port, running


@pytest.mark.timeout(180)
def test_the_demos_customers_resolve_right_after_serve_demo(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    with running(
        tmp_path, "--demo", "--no-worker", "--sandbox-port", str(sandbox_port), port=port
    ) as (base, log):
        key = re.search(r"API key\s+(scrm_\S+)", log.read_text())
        assert key is not None, log.read_text()
        headers = {"Authorization": f"Bearer {key[1]}"}
        maya = httpx.post(
            f"{base}/api/v1/resolve",
            json={"handle": "@mayaontrail", "channel": "x", "user_id": "1500015838"},
            headers=headers,
        ).json()
        assert maya["resolved"] is True, maya
        assert maya["profile_data"]["name"] == "Maya Okafor"
        by_handle = httpx.post(
            f"{base}/api/v1/resolve", json={"handle": "jlindqvist", "channel": "x"}, headers=headers
        ).json()
        assert by_handle["resolved"] is True and by_handle["profile_data"]["name"] == (
            "Jonas Lindqvist"
        )
        # Mastodon handles without an instance (the sandbox names none): said, not dropped.
        reviews = httpx.get(f"{base}/api/identity/reviews", headers=headers).json()["items"]
        kinds = {(r["kind"], r["network"]) for r in reviews}
        assert ("not_linked", "mastodon") in kinds
        # The demo's mentions add guest Leads to review; nothing else lands in the queue.
        assert {kind for kind, _ in kinds} <= {"not_linked", "new_lead"}
        assert "tomash" in {r["handle"] for r in reviews}
