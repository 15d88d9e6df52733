"""The intake and enrichment API, end to end over HTTP on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from tests.conftest import make_api_key, make_tenant
from tests.signatures.mail import SIGNED, message

RFC822 = {"Content-Type": "message/rfc822"}


def post_email(api: TestClient, raw: bytes, **params: Any) -> Any:
    return api.post("/api/emails", content=raw, headers=RFC822, params=params)


def make_contact(api: TestClient, **values: Any) -> dict[str, Any]:
    response = api.post("/api/contacts", json={"name": "Megan C.", **values})
    assert response.status_code == 201, response.text
    return dict(response.json())


def pending(api: TestClient, contact_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/contacts/{contact_id}/enrichment")
    assert response.status_code == 200
    return list(response.json()["pending"])


def labels(values: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(v["field"], v["label"]) for v in values}


def test_known_contact_is_offered_only_new_values_with_their_source(api: TestClient) -> None:
    contact = make_contact(
        api, emails=["megan.carter@brightpath.io"], phones=["+1 415-555-0132"], company=""
    )
    response = post_email(api, message(body=SIGNED, subject="Re: Pricing"))
    assert response.status_code == 201, response.text
    email = response.json()
    assert email["participants"][0]["contact_id"] == contact["id"]

    values = pending(api, contact["id"])
    got = labels(values)
    assert ("company", "BrightPath Analytics") in got
    assert ("title", "Senior Account Executive") in got
    assert ("phones", "+1 628-555-0187 (mobile)") in got
    assert ("website", "https://www.brightpath.io") in got
    assert ("handles", "https://www.linkedin.com/in/megancarter") in got
    # The office number is already on the Contact (typed in another format): not offered.
    assert not any(v["field"] == "phones" and "415" in v["label"] for v in values)
    name = next(v for v in values if v["field"] == "name")
    assert name["action"] == "replace" and name["current"] == "Megan C."
    source = values[0]["sources"][0]
    assert source["email_id"] == email["id"] and source["subject"] == "Re: Pricing"
    assert source["date"]


def test_apply_adds_values_and_rejected_ones_never_come_back(api: TestClient) -> None:
    contact = make_contact(api, emails=["megan.carter@brightpath.io"], title="Buyer")
    post_email(api, message(body=SIGNED))
    values = {v["field"] + ":" + v["label"]: v for v in pending(api, contact["id"])}
    accept = [
        values["company:BrightPath Analytics"]["id"],
        values["handles:https://www.linkedin.com/in/megancarter"]["id"],
    ]
    accept += [v["id"] for k, v in values.items() if k.startswith("phones:")]
    reject = [values["title:Senior Account Executive"]["id"], values["name:Megan Carter"]["id"]]
    response = api.post(
        f"/api/contacts/{contact['id']}/enrichment/apply", json={"accept": accept, "reject": reject}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {v["label"] for v in body["enriched"]} >= {"BrightPath Analytics"}
    assert body["enriched"][0]["sources"][0]["subject"] == "Re: Pricing"

    stored = api.get(f"/api/contacts/{contact['id']}").json()
    assert stored["company"] == "BrightPath Analytics"
    assert stored["title"] == "Buyer"  # typed value kept: its replacement was rejected
    assert stored["name"] == "Megan C."
    assert stored["phones"] == [
        {"number": "+1 415-555-0132", "type": "business"},  # typed in without a type
        {"number": "+1 628-555-0187", "type": "mobile"},  # "M:" in the signature
    ]
    assert {"network": "linkedin", "handle": "megancarter", "user_id": None} in stored["handles"]

    # The same signature again (a new email): rejected values stay away, accepted ones too.
    post_email(api, message(body=SIGNED, message_id="<m2@test>"))
    again = labels(pending(api, contact["id"]))
    assert ("title", "Senior Account Executive") not in again
    assert ("name", "Megan Carter") not in again
    assert ("company", "BrightPath Analytics") not in again
    assert again == {("website", "https://www.brightpath.io")}


def test_apply_refuses_foreign_or_decided_ids(api: TestClient) -> None:
    first = make_contact(api, emails=["megan.carter@brightpath.io"])
    other = make_contact(api, name="Other", emails=["x@othercorp.com"])
    post_email(api, message(body=SIGNED))
    value_id = pending(api, first["id"])[0]["id"]
    wrong = api.post(f"/api/contacts/{other['id']}/enrichment/apply", json={"accept": [value_id]})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"]["ids"] == [value_id]
    both = api.post(
        f"/api/contacts/{first['id']}/enrichment/apply",
        json={"accept": [value_id], "reject": [value_id]},
    )
    assert both.status_code == 400
    ok = api.post(f"/api/contacts/{first['id']}/enrichment/apply", json={"reject": [value_id]})
    assert ok.status_code == 200
    twice = api.post(f"/api/contacts/{first['id']}/enrichment/apply", json={"accept": [value_id]})
    assert twice.status_code == 409
    assert api.get("/api/contacts/999999/enrichment").status_code == 404


def test_intake_refuses_what_is_not_a_message(api: TestClient) -> None:
    wrong_type = api.post("/api/emails", content=b"hello", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    garbage = post_email(api, b"\x00\x01 this is not an email at all")
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "validation_error"
    empty = post_email(api, b"")
    assert empty.status_code == 400
    too_big = api.post(
        "/api/emails", content=b"x", headers={**RFC822, "Content-Length": str(26 * 1024 * 1024)}
    )
    assert too_big.status_code == 413


def test_the_same_message_twice_is_stored_once(api: TestClient) -> None:
    raw = message(body=SIGNED)
    first = post_email(api, raw)
    second = post_email(api, raw)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(api.get("/api/emails").json()["items"]) == 1


def test_unknown_addresses_get_create_or_link_but_free_mail_and_roles_only_link(
    api: TestClient,
) -> None:
    email = post_email(api, message(body=SIGNED)).json()
    window = api.get(f"/api/emails/{email['id']}/enrichment").json()
    group = window["participants"][0]
    assert group["contact_id"] is None and group["actions"] == ["create", "link"]
    assert ("company", "BrightPath Analytics") in labels(group["values"])
    # Auto-create is off by default: nothing was created.
    assert api.get("/api/contacts").json()["items"] == []

    free = post_email(
        api, message(sender="Lisa Wong <lisa.wong@gmail.com>", body="ok\n", message_id="<f@t>")
    ).json()
    role = post_email(
        api, message(sender="Acme <noreply@acmecloud.com>", body="report\n", message_id="<r@t>")
    ).json()
    for stored in (free, role):
        view = api.get(f"/api/emails/{stored['id']}/enrichment").json()
        assert view["participants"][0]["actions"] == ["link"]
        refused = api.post(
            f"/api/emails/{stored['id']}/participants/connect",
            json={"address": stored["sender"], "create": True},
        )
        assert refused.status_code == 409


def test_create_contact_from_unknown_address_moves_its_values(api: TestClient) -> None:
    email = post_email(api, message(body=SIGNED)).json()
    created = api.post(
        f"/api/emails/{email['id']}/participants/connect",
        json={"address": "megan.carter@brightpath.io", "create": True},
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["contact_id"]
    contact = api.get(f"/api/contacts/{contact_id}").json()
    assert contact["name"] == "Megan Carter"
    assert contact["emails"] == ["megan.carter@brightpath.io"]
    assert ("company", "BrightPath Analytics") in labels(pending(api, contact_id))
    window = api.get(f"/api/emails/{email['id']}/enrichment").json()
    assert window["participants"][0]["contact_id"] == contact_id


def test_link_unknown_address_to_existing_contact(api: TestClient) -> None:
    contact = make_contact(api, name="Megan Carter", emails=["megan@oldjob.com"])
    email = post_email(api, message(body=SIGNED)).json()
    linked = api.post(
        f"/api/emails/{email['id']}/participants/connect",
        json={"address": "megan.carter@brightpath.io", "contact_id": contact["id"]},
    )
    assert linked.status_code == 201
    stored = api.get(f"/api/contacts/{contact['id']}").json()
    assert stored["emails"] == ["megan@oldjob.com", "megan.carter@brightpath.io"]
    # The name matches what was typed: not offered; the rest is.
    got = labels(pending(api, contact["id"]))
    assert ("company", "BrightPath Analytics") in got
    assert not any(field == "name" for field, _ in got)
    bad = api.post(
        f"/api/emails/{email['id']}/participants/connect",
        json={"address": "nobody@x.test", "create": True},
    )
    assert bad.status_code == 404


def test_auto_create_when_the_tenant_turns_it_on(api: TestClient) -> None:
    assert api.get("/api/email-settings").json()["auto_create_contacts"] is False
    changed = api.put("/api/email-settings", json={"auto_create_contacts": True})
    assert changed.status_code == 200 and changed.json()["auto_create_contacts"] is True
    post_email(api, message(body=SIGNED))
    post_email(api, message(sender="Lisa <lisa.wong@gmail.com>", body="hi\n", message_id="<g@t>"))
    contacts = api.get("/api/contacts").json()["items"]
    assert [c["emails"] for c in contacts] == [["megan.carter@brightpath.io"]]
    assert api.put("/api/email-settings", json={"default_region": "XX"}).status_code == 400


def test_tenant_region_reads_national_numbers(api: TestClient) -> None:
    api.put("/api/email-settings", json={"default_region": "DE", "default_phone_type": "work"})
    contact = make_contact(api, name="Katrin", emails=["k.vogel@alpenblick.de"])
    body = "Hallo,\n\nMit freundlichen Grüßen\nKatrin Vogel\n089 123 456 78\nHandy 0171 2345678\n"
    post_email(api, message(sender="Katrin Vogel <k.vogel@alpenblick.de>", body=body))
    got = labels(pending(api, contact["id"]))
    assert ("phones", "+49 89 12345678 (work)") in got  # no label: the tenant's default type
    assert ("phones", "+49 171 2345678 (mobile)") in got


def test_thread_participants_are_all_considered(api: TestClient) -> None:
    rachel = make_contact(api, name="Rachel", emails=["rachel.kim@clientexample.com"])
    body = (
        "Thursday works.\n\nKind regards,\nDaniel Price\nOperations Director, Harbor Logistics\n"
        "Direct: (312) 555-0178\n\n"
        "On Tue, Mar 4, 2025 at 9:41 AM Rachel Kim <rachel.kim@clientexample.com> wrote:\n"
        "> Hi Daniel,\n> could we move it?\n>\n> Thanks,\n> Rachel Kim\n"
        "> Customer Success Manager\n> Client Example Inc.\n> +1 646 555 0104\n"
    )
    email = post_email(
        api, message(sender="Daniel Price <dprice@harborlogistics.com>", body=body)
    ).json()
    emails = [p["email"] for p in email["participants"]]
    assert emails == ["dprice@harborlogistics.com", "rachel.kim@clientexample.com"]
    got = labels(pending(api, rachel["id"]))
    assert ("company", "Client Example Inc.") in got
    assert ("phones", "+1 646-555-0104 (business)") in got


def test_staff_addresses_are_not_enriched(api: TestClient, database: Database) -> None:
    from socialcrm.core.principal import Role
    from socialcrm.tenancy.models import Tenant
    from socialcrm.tenancy.service import create_user

    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one()
        create_user(
            session, tenant=tenant, email="sam@ourcrm.test", password="long enough", role=Role.AGENT
        )
    raw = message(
        sender="Sam <sam@ourcrm.test>", body="Best,\nSam Ortiz\nSales Lead\n+1 212 555 0147\n"
    )
    assert post_email(api, raw).json()["participants"] == []


def test_connecting_an_address_updates_only_the_last_weeks_threads(api: TestClient) -> None:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    with time_machine.travel(month_ago, tick=False):
        old = post_email(api, message(body=SIGNED, message_id="<old@t>", date=month_ago)).json()
    new = post_email(api, message(body=SIGNED, message_id="<new@t>")).json()
    contact = make_contact(api, name="Megan", emails=["megan@otherjob.com"])
    api.post(
        f"/api/emails/{new['id']}/participants/connect",
        json={"address": "megan.carter@brightpath.io", "contact_id": contact["id"]},
    )
    assert (
        api.get(f"/api/emails/{new['id']}").json()["participants"][0]["contact_id"]
        == (contact["id"])
    )
    assert api.get(f"/api/emails/{old['id']}").json()["participants"][0]["contact_id"] is None


def test_ticket_from_email_enrichment_and_connect(api: TestClient) -> None:
    email = post_email(api, message(body=SIGNED), create_ticket="true").json()
    ticket_id = email["ticket_id"]
    ticket = api.get(f"/api/tickets/{ticket_id}").json()
    assert ticket["subject"] == "Re: Pricing" and ticket["contact_id"] is None
    view = api.get(f"/api/tickets/{ticket_id}/enrichment").json()
    assert view["emails"][0]["participants"][0]["actions"] == ["create", "link"]
    contact = make_contact(api, name="Megan Carter", emails=["m@oldmail.com"])
    api.post(
        f"/api/emails/{email['id']}/participants/connect",
        json={"address": "megan.carter@brightpath.io", "contact_id": contact["id"]},
    )
    assert api.get(f"/api/tickets/{ticket_id}").json()["contact_id"] == contact["id"]


def test_completeness_counts_key_fields(api: TestClient) -> None:
    contact = make_contact(api, name="Ann", emails=["ann@xcorp.com"], company="X")
    view = api.get(f"/api/contacts/{contact['id']}/enrichment").json()
    assert view["completeness"]["score"] == 0.375
    assert set(view["completeness"]["filled"]) == {"name", "emails", "company"}


def test_other_tenants_see_nothing(
    api: TestClient, app_client: TestClient, database: Database
) -> None:
    contact = make_contact(api, emails=["megan.carter@brightpath.io"])
    email = post_email(api, message(body=SIGNED)).json()
    value_id = pending(api, contact["id"])[0]["id"]
    with database.session(system=True) as session:
        key_b = make_api_key(session, tenant=make_tenant(session, name="Tenant B"))
    b = {"Authorization": f"Bearer {key_b}"}
    assert app_client.get(f"/api/emails/{email['id']}", headers=b).status_code == 404
    assert app_client.get(f"/api/emails/{email['id']}/enrichment", headers=b).status_code == 404
    assert app_client.get(f"/api/contacts/{contact['id']}/enrichment", headers=b).status_code == 404
    assert app_client.get("/api/emails", headers=b).json()["items"] == []
    own = app_client.post("/api/contacts", json={"name": "B"}, headers=b).json()
    stolen = app_client.post(
        f"/api/contacts/{own['id']}/enrichment/apply", json={"accept": [value_id]}, headers=b
    )
    assert stolen.status_code == 400
    # The same Message-ID in tenant B is B's own email, not A's.
    theirs = app_client.post("/api/emails", content=message(body=SIGNED), headers={**b, **RFC822})
    assert theirs.status_code == 201 and theirs.json()["id"] != email["id"]


def test_poison_mail_is_a_400_or_stored_with_a_warning_never_a_500(api: TestClient) -> None:
    crafted_date = (
        b"From: Megan Carter <megan.carter@brightpath.io>\r\n"
        b"Date: Mon, 1 Jan 99999999999999999999 10:00:00 +0000\r\n"
        b"Subject: crafted\r\nMessage-ID: <date@t>\r\n\r\nhi\r\n"
    )
    stored = post_email(api, crafted_date)
    assert stored.status_code == 201, stored.text
    assert stored.json()["sent_at"] is None
    assert "the Date header cannot be read" in stored.json()["warnings"]
    for raw, reason in [
        (b"From: Bob\x00 <bob@x.com>\r\nSubject: x\r\n\r\nhi\r\n", "From header"),
        (b"From: b@x.com\r\nContent-Type: text/plain; charset=a\x00b\r\n\r\nhi\r\n", "charset"),
    ]:
        refused = post_email(api, raw)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "validation_error" and reason in error["message"]
    # NUL in the body and 8-bit garbage in headers are stored (PostgreSQL takes neither raw).
    body = post_email(api, b"From: \xff\xfe <bob@x.com>\r\nSubject: \xc3\r\n\r\nh\x00i\r\n")
    assert body.status_code == 201, body.text
    assert api.get("/api/emails", params={"failed": "true"}).json()["items"] == []


def test_email_mining_switch_stores_mail_but_suggests_nothing_while_off(
    api: TestClient, database: Database
) -> None:
    assert api.get("/api/email-settings").json()["mining_enabled"] is True
    contact = make_contact(api, emails=["megan.carter@brightpath.io"])
    changed = api.put(
        "/api/email-settings", json={"mining_enabled": False, "auto_create_contacts": True}
    )
    assert changed.status_code == 200 and changed.json()["mining_enabled"] is False

    email = post_email(api, message(body=SIGNED, message_id="<off@t>"))
    assert email.status_code == 201  # intake still stores mail
    [sender] = email.json()["participants"]  # the sender is still recognised, nothing read
    assert sender["contact_id"] == contact["id"] and sender["fields"]["phones"] == []
    unknown = message(sender="Lee <lee@newcorp.example>", body=SIGNED, message_id="<new@t>")
    post_email(api, unknown)
    assert [c["id"] for c in api.get("/api/contacts").json()["items"]] == [contact["id"]]
    view = api.get(f"/api/contacts/{contact['id']}/enrichment").json()
    assert view["mining_enabled"] is False and view["pending"] == []
    window = api.get(f"/api/emails/{email.json()['id']}/enrichment").json()
    assert window["mining_enabled"] is False
    assert all(not g["values"] and not g["actions"] for g in window["participants"])
    refused = api.post(f"/api/contacts/{contact['id']}/enrichment/apply", json={"accept": []})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"

    # Back on: mail from now on is mined (mail taken in while off is not read again).
    api.put("/api/email-settings", json={"mining_enabled": True, "auto_create_contacts": False})
    post_email(api, message(body=SIGNED, message_id="<on@t>"))
    assert ("company", "BrightPath Analytics") in labels(pending(api, contact["id"]))

    from socialcrm.core.principal import Role
    from socialcrm.tenancy.models import Tenant

    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one()
        agent_key = make_api_key(session, tenant=tenant, role=Role.AGENT)
    agent = api.put(
        "/api/email-settings",
        json={"mining_enabled": False},
        headers={"Authorization": f"Bearer {agent_key}"},
    )
    assert agent.status_code == 403


def test_an_applied_phone_keeps_the_type_its_label_gave(api: TestClient) -> None:
    contact = make_contact(api, name="Jonas Weber", emails=["j.weber@nordwerk.de"])
    body = (
        "Hallo,\n\nMit freundlichen Grüßen\nJonas Weber\nNordwerk GmbH\n"
        "Mobil: +49 1512 3456789\nFax: +49 30 1234568\n"
    )
    post_email(api, message(sender="Jonas Weber <j.weber@nordwerk.de>", body=body))
    offered = {v["label"]: v for v in pending(api, contact["id"]) if v["field"] == "phones"}
    assert set(offered) == {"+49 1512 3456789 (mobile)", "+49 30 1234568 (fax)"}
    assert offered["+49 1512 3456789 (mobile)"]["value"]["type"] == "mobile"
    accept = [v["id"] for v in offered.values()]
    applied = api.post(f"/api/contacts/{contact['id']}/enrichment/apply", json={"accept": accept})
    assert applied.status_code == 200, applied.text
    phones = api.get(f"/api/contacts/{contact['id']}").json()["phones"]
    assert phones == [
        {"number": "+49 1512 3456789", "type": "mobile"},
        {"number": "+49 30 1234568", "type": "fax"},
    ]
    # The type can be changed afterwards; plain strings still work and take the default type.
    changed = api.patch(
        f"/api/contacts/{contact['id']}",
        json={"phones": [{"number": "+49 1512 3456789", "type": "home"}, "+49 30 1234568"]},
    )
    assert changed.json()["phones"] == [
        {"number": "+49 1512 3456789", "type": "home"},
        {"number": "+49 30 1234568", "type": "business"},
    ]
    bad = api.patch(
        f"/api/contacts/{contact['id']}",
        json={"phones": [{"number": "+49 30 1234568", "type": "<b>x</b>"}]},
    )
    assert bad.status_code == 400
