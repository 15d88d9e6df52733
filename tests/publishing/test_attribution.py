"""Tracked links, engagement refresh under rate limits, and campaign attribution sums."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import Database
from socialcrm.publishing import metrics
from tests.publishing.conftest import fault, sandbox_posts

pytestmark = pytest.mark.usefixtures("sandbox")


def calls(sandbox: object, network: str, endpoint: str) -> int:
    response = httpx.get(
        f"{sandbox.url}/_sandbox/calls",  # type: ignore[attr-defined]
        params={"network": network, "endpoint": endpoint},
    )
    body = response.json()
    return int(body["count"] if isinstance(body, dict) else body)


def tenant_of(database: Database, account_id: int) -> int:
    with database.session(system=True) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        return account.tenant_id


def campaign(api: TestClient, name: str = "Spring Launch") -> int:
    response = api.post("/api/campaigns", json={"name": name, "tracking_tag": "spring26"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def publish(api: TestClient, account_id: int, text: str, campaign_id: int) -> dict[str, object]:
    response = api.post(
        "/api/publishing/posts",
        json={
            "text": text,
            "targets": [{"account_id": account_id}],
            "action": "now",
            "campaign_id": campaign_id,
        },
    )
    assert response.status_code == 201, response.text
    post = api.get(f"/api/publishing/posts/{response.json()['id']}").json()
    target: dict[str, object] = post["targets"][0]
    assert target["status"] == "published", target
    return target


def reply_on_network(sandbox: object, post_id: str, who: str = "grace") -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={"network": "x", "author_handle": who, "text": "love it", "in_reply_to_id": post_id},
    ).raise_for_status()


def test_links_are_utm_tagged_and_click_throughs_counted(
    api: TestClient, brand: dict[str, int], sandbox: object
) -> None:
    campaign_id = campaign(api)
    target = publish(api, brand["x"], "Read https://shop.example.com/spring?ref=a now", campaign_id)
    on_network = sandbox_posts(sandbox, "x")[0]["text"]
    assert "shop.example.com" not in on_network
    short = next(w for w in on_network.split() if "/r/" in w)
    assert short.startswith("http://testserver/r/")
    path = urlsplit(short).path
    for _ in range(3):
        hop = api.get(path, follow_redirects=False)
        assert hop.status_code == 302
    destination = urlsplit(hop.headers["location"])
    assert destination.netloc == "shop.example.com"
    query = parse_qs(destination.query)
    assert query.pop("utm_content")[0].startswith("post-")
    assert query == {
        "ref": ["a"],
        "utm_source": ["x"],
        "utm_medium": ["social"],
        "utm_campaign": ["spring26"],
    }
    assert target["text"] == on_network
    assert api.get("/r/nonexistent1", follow_redirects=False).status_code == 404
    report = api.get(f"/api/campaigns/{campaign_id}/attribution").json()
    assert report["engagement"]["clicks"] == 3


def test_metrics_refresh_and_attribution_add_up(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    campaign_id = campaign(api)
    other = campaign(api, "Other")
    first = publish(api, brand["x"], "First", campaign_id)
    second = publish(api, brand["x"], "Second", campaign_id)
    publish(api, brand["x"], "Elsewhere", other)
    for post_id in (first["external_id"], first["external_id"], second["external_id"]):
        reply_on_network(sandbox, str(post_id))
    tenant_id = tenant_of(database, brand["x"])
    assert metrics.refresh_metrics(database, tenant_id, brand["x"]) == 3
    assert metrics.refresh_metrics(database, tenant_id, brand["x"]) == 3  # no double count
    for status in ("new", "converted", "converted", "disqualified"):
        assert (
            api.post(
                "/api/leads",
                json={"name": f"Lead {status}", "campaign_id": campaign_id, "status": status},
            ).status_code
            == 201
        )
    api.post("/api/leads", json={"name": "Not ours", "campaign_id": other})
    assert api.put(f"/api/campaigns/{campaign_id}/budget", json={"amount": 200}).status_code == 200

    report = api.get(f"/api/campaigns/{campaign_id}/attribution").json()
    assert report["posts"] == {"total": 2, "published": 2}
    assert report["engagement"]["comments"] == 3
    assert sum(day["comments"] for day in report["series"]) == 3
    assert report["leads"]["total"] == 4 and report["leads"]["converted"] == 2
    assert report["budget"]["cost_per_lead"] == 50.0
    assert report["budget"]["cost_per_conversion"] == 100.0
    assert report["mentions"]["available"] in (True, False)

    exported = api.get(f"/api/campaigns/{campaign_id}/attribution.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[-1]["day"] == "total" and rows[-1]["comments"] == "3"
    assert api.get("/api/campaigns/999999/attribution").status_code == 404
    assert api.get(f"/api/campaigns/{campaign_id}/attribution?from=yesterday").status_code == 400


def test_metrics_refresh_backs_off_when_rate_limited(
    api: TestClient, brand: dict[str, int], sandbox: object, database: Database
) -> None:
    campaign_id = campaign(api)
    publish(api, brand["x"], "Popular", campaign_id)
    fault(sandbox, network="x", endpoint="metrics", status=429, retry_after=600, count=1)
    before = calls(sandbox, "x", "metrics")
    tenant_id = tenant_of(database, brand["x"])
    assert metrics.refresh_metrics(database, tenant_id, brand["x"]) == 0
    assert calls(sandbox, "x", "metrics") == before + 1
    assert metrics.refresh_metrics(database, tenant_id, brand["x"]) == 0  # waits for the reset
    assert calls(sandbox, "x", "metrics") == before + 1
