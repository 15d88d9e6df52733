"""The HTTP API: rules, preview, the inbox, escalation, tenant isolation, roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.models import Tenant
from tests.conftest import make_api_key, make_tenant
from tests.listening.factories import ingest, post


def tenant_id(database: Database, name: str = "Tenant A") -> int:
    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name=name).one()
        return tenant.id


def test_rule_crud_and_errors(api: TestClient) -> None:
    created = api.post(
        "/api/listening/rules",
        json={
            "name": "Angry about battery",
            "query": 'acme AND "battery life" NOT #ad',
            "languages": ["EN"],
            "countries": ["gb"],
            "geo": {"lat": 51.5, "lon": -0.12, "radius_km": 25},
            "sentiments": ["negative"],
            "support": True,
            "actions": ["notify", "ticket"],
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["languages"] == ["en"] and rule["countries"] == ["GB"]
    assert rule["actions"] == ["notify", "ticket"]
    patched = api.patch(f"/api/listening/rules/{rule['id']}", json={"active": False})
    assert patched.status_code == 200 and patched.json()["active"] is False
    bad_query = api.post("/api/listening/rules", json={"name": "x", "query": "acme AND"})
    assert bad_query.status_code == 400
    assert bad_query.json()["error"]["code"] == "validation_error"
    bad_action = api.post("/api/listening/rules", json={"name": "x", "actions": ["explode"]})
    assert bad_action.status_code == 400
    bad_geo = api.post(
        "/api/listening/rules", json={"name": "x", "geo": {"lat": 91, "lon": 0, "radius_km": 1}}
    )
    assert bad_geo.status_code == 400
    unknown_ref = api.post("/api/listening/rules", json={"name": "x", "owner_id": 999999})
    assert unknown_ref.status_code == 400
    assert api.get("/api/listening/rules/999999").status_code == 404
    assert api.delete(f"/api/listening/rules/{rule['id']}").status_code == 204
    assert api.get("/api/listening/rules").json() == []


def test_preview_shows_the_last_seven_days(api: TestClient, database: Database) -> None:
    tenant = tenant_id(database)
    from datetime import timedelta

    from socialcrm.core.db import utcnow

    ingest(
        database,
        tenant,
        post("acme is broken", posted_at=utcnow() - timedelta(days=1)),
        post("acme was broken long ago", posted_at=utcnow() - timedelta(days=10)),
        post("acme is fine", posted_at=utcnow() - timedelta(days=2)),
    )
    answer = api.post("/api/listening/rules/preview", json={"query": "acme broken"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["days"], body["scanned"], body["matched"]) == (7, 2, 1)
    assert body["samples"][0]["text"] == "acme is broken"
    assert api.get("/api/listening/rules").json() == []  # nothing saved


def test_inbox_filters_and_buttons(api: TestClient, database: Database) -> None:
    tenant = tenant_id(database)
    rule = api.post(
        "/api/listening/rules", json={"name": "r", "query": "acme", "actions": []}
    ).json()
    ingest(
        database,
        tenant,
        post("acme is terrible and awful", external_id="n1", author="neg"),
        post("I love acme, wonderful", external_id="p1", author="pos"),
        post("unrelated happy news, great", external_id="u1", network="mastodon"),
    )

    def ids(**params: object) -> list[str]:
        answer = api.get("/api/listening/mentions", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(m["external_id"] for m in answer.json()["items"])

    assert ids() == ["n1", "p1", "u1"]
    assert ids(rule_id=rule["id"]) == ["n1", "p1"]
    assert ids(sentiment="negative") == ["n1"]
    assert ids(network="mastodon") == ["u1"]
    assert ids(language="en") == ["n1", "p1", "u1"]
    negative = api.get("/api/listening/mentions", params={"sentiment": "negative"}).json()
    mention_id = negative["items"][0]["id"]
    ticket = api.post(f"/api/listening/mentions/{mention_id}/ticket")
    assert ticket.status_code == 201 and ticket.json()["created"] is True
    again = api.post(f"/api/listening/mentions/{mention_id}/ticket")
    assert again.status_code == 200 and again.json()["ticket_id"] == ticket.json()["ticket_id"]
    lead = api.post(f"/api/listening/mentions/{mention_id}/lead")
    assert lead.status_code == 201 and lead.json()["lead_id"]
    assert ids(has_ticket=True) == ["n1"] and ids(has_lead=True) == ["n1"]
    assert ids(has_lead=False) == ["p1", "u1"]
    assert api.get("/api/listening/mentions", params={"sentiment": "angry"}).status_code == 400
    assert api.get("/api/listening/mentions", params={"cursor": "x"}).status_code == 400
    assert api.post("/api/listening/mentions/999999/lead").status_code == 404
    page = api.get("/api/listening/mentions", params={"limit": 2}).json()
    rest = api.get("/api/listening/mentions", params={"cursor": page["next_cursor"]}).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1


def test_tenant_isolation_and_roles(
    api: TestClient, app_client: TestClient, database: Database
) -> None:
    tenant_a = tenant_id(database)
    ingest(database, tenant_a, post("acme secret", external_id="a1"))
    api.post("/api/listening/rules", json={"name": "A's rule", "query": "acme"})
    with database.session(system=True) as session:
        other = make_tenant(session, name="Tenant B")
        key_b = make_api_key(session, tenant=other)
        agent_key = make_api_key(
            session,
            tenant=session.query(Tenant).get(tenant_a),
            role=Role.AGENT,  # type: ignore[arg-type]
        )
    b = {"Authorization": f"Bearer {key_b}"}
    assert app_client.get("/api/listening/mentions", headers=b).json()["items"] == []
    assert app_client.get("/api/listening/rules", headers=b).json() == []
    a_mention = api.get("/api/listening/mentions").json()["items"][0]["id"]
    assert (
        app_client.post(f"/api/listening/mentions/{a_mention}/ticket", headers=b).status_code == 404
    )
    agent = {"Authorization": f"Bearer {agent_key}"}
    denied = app_client.post("/api/listening/rules", json={"name": "x"}, headers=agent)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    nope = {"Authorization": "Bearer scrm_nope"}
    assert app_client.get("/api/listening/mentions", headers=nope).status_code == 401
