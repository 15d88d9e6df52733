"""Each settings page of the Admin area: it shows the current values, saves through the same
service the API uses (POST, then redirect), and after a refusal shows the typed values again
with the error beside its field in plain words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.connections.models import ProviderApp
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database, utcnow
from socialcrm.core.settings import get_settings
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Ticket
from socialcrm.enrichment import service as enrichment
from socialcrm.identity import tenant_policy as identity
from socialcrm.listening import service as listening
from socialcrm.publishing import compose
from socialcrm.signatures import policy as email_policy
from socialcrm.signatures.models import ImapAccount
from socialcrm.tenancy.models import Tenant
from tests.admin.conftest import People, error_of, post_form, value_of

Login = Callable[[str], TestClient]


def saved(answer: object, path: str) -> None:
    assert answer.status_code == 303, answer.text[-1500:]  # type: ignore[attr-defined]
    assert answer.headers["location"] == f"{path}?done=saved"  # type: ignore[attr-defined]


def tenant_policy(database: Database, tenant_id: int) -> dict[str, object]:
    with database.session(system=True) as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return dict(tenant.policy)


@pytest.fixture
def ada(people: People, login: Login) -> TestClient:
    return login("ada@a.test")


def test_enrichment_thresholds(database: Database, people: People, ada: TestClient) -> None:
    page = ada.get("/admin/enrichment").text
    assert value_of(page, "auto_link_threshold") == "0.9"
    answer = post_form(
        ada,
        "/admin/enrichment",
        "/admin/enrichment",
        auto_link_threshold="1.5",
        suggest_threshold="0.5",
    )
    assert answer.status_code == 400
    assert error_of(answer.text, "auto_link_threshold") == "must be 1 or less"
    assert value_of(answer.text, "auto_link_threshold") == "1.5"
    assert "Nothing was saved" in answer.text
    # The service's own rule lands beside the field it concerns.
    answer = post_form(
        ada,
        "/admin/enrichment",
        "/admin/enrichment",
        auto_link_threshold="0.92",
        suggest_threshold="0.95",
    )
    assert "below auto_link_threshold" in error_of(answer.text, "suggest_threshold")
    answer = post_form(
        ada,
        "/admin/enrichment",
        "/admin/enrichment",
        auto_link_threshold="0.6",
        suggest_threshold="0.5",
    )  # the product's promise: auto-link only at 0.9 or more
    assert "between 0.9 and 1" in error_of(answer.text, "auto_link_threshold")
    answer = post_form(
        ada, "/admin/enrichment", "/admin/enrichment", auto_link_threshold="", suggest_threshold="x"
    )
    assert error_of(answer.text, "auto_link_threshold") == "enter a number, such as 0.8"

    answer = post_form(
        ada,
        "/admin/enrichment",
        "/admin/enrichment",
        auto_link_threshold="0.95",
        suggest_threshold="0.6",
    )  # restrict_without_consent unticked
    saved(answer, "/admin/enrichment")
    with database.session(tenant_id=people.tenant_a) as session:
        policy = enrichment.tenant_policy(session, people.tenant_a)
    assert (policy.auto_link_threshold, policy.suggest_threshold) == (0.95, 0.6)
    assert policy.restrict_without_consent is False
    page = ada.get(answer.headers["location"]).text
    assert "Enrichment settings saved" in page and value_of(page, "suggest_threshold") == "0.6"


def test_identity_policy(database: Database, people: People, ada: TestClient) -> None:
    fields = {
        "confidence_threshold": "0.3",
        "cache_ttl_s": "301",
        "rate_limit_per_minute": "100",
        "min_account_age_days": "7",
        "recently_updated_hours": "24",
        "fresh_tiers": ["platinum", "gold"],
        "bot_user_ids": "",
        "bot_handles": "spambot\n\n",
        "spam_keywords": "free followers\nx",
    }
    answer = post_form(ada, "/admin/identity", "/admin/identity", **fields)
    assert answer.status_code == 400
    assert error_of(answer.text, "confidence_threshold") == "must be 0.5 or more"
    assert error_of(answer.text, "cache_ttl_s") == "must be 300 or less"
    assert error_of(answer.text, "spam_keywords") == "entry 2: must have at least 2 characters"
    assert ">free followers\nx</textarea>" in answer.text  # typed, kept
    assert 'value="gold" checked' in answer.text

    answer = post_form(
        ada,
        "/admin/identity",
        "/admin/identity",
        **(
            fields
            | {"confidence_threshold": "0.9", "cache_ttl_s": "60", "spam_keywords": "buy likes"}
        ),
    )
    saved(answer, "/admin/identity")
    identity.forget_policies()
    with database.session(tenant_id=people.tenant_a) as session:
        policy = identity.tenant_policy(session, people.tenant_a)[0]
        logged = session.scalars(select(AuditLog.action)).all()
    assert (policy.confidence_threshold, policy.cache_ttl_s) == (0.9, 60)
    assert (policy.fresh_tiers, policy.bot_handles, policy.spam_keywords) == (
        ["platinum", "gold"],
        ["spambot"],
        ["buy likes"],
    )
    assert logged == ["identity.settings.update"]


def test_listening_languages(database: Database, people: People, ada: TestClient) -> None:
    answer = post_form(ada, "/admin/listening", "/admin/listening", languages="en, zz")
    assert answer.status_code == 400
    assert error_of(answer.text, "languages").startswith("unknown language code(s) zz")
    assert value_of(answer.text, "languages") == "en, zz"
    answer = post_form(ada, "/admin/listening", "/admin/listening", languages=" ")
    assert error_of(answer.text, "languages") == "this is required"
    saved(
        post_form(ada, "/admin/listening", "/admin/listening", languages="DE; en"),
        "/admin/listening",
    )
    with database.session(tenant_id=people.tenant_a) as session:
        assert listening.tenant_policy(session, people.tenant_a).languages == ["de", "en"]
    assert value_of(ada.get("/admin/listening").text, "languages") == "de, en"


def test_publishing_approval(database: Database, people: People, ada: TestClient) -> None:
    saved(
        post_form(ada, "/admin/publishing", "/admin/publishing", approval_required="on"),
        "/admin/publishing",
    )
    with database.session(tenant_id=people.tenant_a) as session:
        assert compose.approval_policy(session, people.tenant_a) is True
    assert (
        'name="approval_required" id="f-approval_required" checked'
        in ada.get("/admin/publishing").text
    )
    saved(post_form(ada, "/admin/publishing", "/admin/publishing"), "/admin/publishing")
    with database.session(tenant_id=people.tenant_a) as session:
        assert compose.approval_policy(session, people.tenant_a) is False


def support_fields(**changes: str) -> dict[str, str]:
    fields = {}
    for tier, (queue, priority, minutes) in {
        "platinum": ("priority", "urgent", "30"),
        "gold": ("priority", "high", "60"),
        "standard": ("general", "normal", "240"),
        "guest": ("general", "low", "480"),
    }.items():
        fields |= {
            f"tiers.{tier}.queue": queue,
            f"tiers.{tier}.priority": priority,
            f"tiers.{tier}.first_response_minutes": minutes,
        }
    return fields | {"escalation_queue": ""} | changes


def test_support_tiers_and_queues_apply_to_new_tickets(
    database: Database, people: People, ada: TestClient
) -> None:
    bad = support_fields(
        **{
            "tiers.gold.queue": "",
            "tiers.gold.priority": "asap",
            "tiers.guest.first_response_minutes": "0",
            "escalation_queue": "<script>",
        }
    )
    answer = post_form(ada, "/admin/support", "/admin/support", **bad)
    assert answer.status_code == 400
    assert error_of(answer.text, "tiers.gold.queue") == "this is required"
    assert (
        error_of(answer.text, "tiers.gold.priority") == "choose one of low, normal, high or urgent"
    )
    assert error_of(answer.text, "tiers.guest.first_response_minutes") == "must be 1 or more"
    assert error_of(answer.text, "escalation_queue") == "is not in the expected form"
    assert value_of(answer.text, "tiers.guest.first_response_minutes") == "0"
    assert tenant_policy(database, people.tenant_a) == {}

    good = support_fields(
        **{
            "tiers.gold.queue": "vip",
            "tiers.gold.first_response_minutes": "45",
            "escalation_queue": "escalated",
        }
    )
    saved(post_form(ada, "/admin/support", "/admin/support", **good), "/admin/support")
    with database.session(tenant_id=people.tenant_a) as session:
        gold = crm.create(session, Contact, {"name": "Goldie", "tier": "gold"})
        before = utcnow()
        ticket = crm.create(session, Ticket, {"subject": "help", "contact_id": gold.id})
        assert ticket.first_response_due_at is not None
        assert ticket.first_response_due_at - before < timedelta(minutes=46)
        assert ticket.first_response_due_at - before > timedelta(minutes=44)
    support = tenant_policy(database, people.tenant_a)["support"]
    assert support["queues"]["gold"] == "vip"  # type: ignore[index]
    assert support["escalation_queue"] == "escalated"  # type: ignore[index]
    assert value_of(ada.get("/admin/support").text, "tiers.gold.queue") == "vip"


def test_support_settings_api(api: TestClient, database: Database) -> None:
    shown = api.get("/api/support/settings").json()
    assert shown["tiers"]["platinum"] == {
        "queue": "priority",
        "priority": "urgent",
        "first_response_minutes": 30,
    }
    changed = api.put(
        "/api/support/settings",
        json={
            "tiers": {
                "guest": {"queue": "social", "priority": "normal", "first_response_minutes": 90}
            }
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tiers"]["guest"]["queue"] == "social"
    assert changed.json()["tiers"]["gold"]["queue"] == "priority"  # left out: kept
    refused = api.put("/api/support/settings", json={"tiers": {"diamond": {}}})
    assert refused.status_code in (400, 422)
    assert refused.json()["error"]["code"] == "validation_error"


@pytest.fixture
def loopback_imap() -> Iterator[None]:
    settings = get_settings()
    previous = settings.allow_private_fetch
    settings.allow_private_fetch = ["127.0.0.1/32"]
    try:
        yield
    finally:
        settings.allow_private_fetch = previous


def test_email_settings_and_mailboxes(
    database: Database, people: People, ada: TestClient, loopback_imap: None
) -> None:
    answer = post_form(
        ada, "/admin/email", "/admin/email", default_region="xx", default_phone_type="business"
    )
    assert answer.status_code == 400
    assert "unknown phone region" in error_of(answer.text, "default_region")  # the service's check
    assert value_of(answer.text, "default_region") == "xx"
    saved(
        post_form(
            ada,
            "/admin/email",
            "/admin/email",
            default_region="de",
            default_phone_type="mobile",
            auto_create_contacts="on",
        ),
        "/admin/email",
    )
    with database.session(tenant_id=people.tenant_a) as session:
        settings = email_policy.get_settings(session, people.tenant_a)
    assert (
        settings.default_region,
        settings.default_phone_type,
        settings.auto_create_contacts,
    ) == (
        "DE",
        "mobile",
        True,
    )

    mailbox = {"host": "10.1.2.3", "port": "993", "security": "ssl", "username": "s@a.test"}
    answer = post_form(
        ada,
        "/admin/email",
        "/admin/email/mailboxes",
        **mailbox,
        password="hunter22",
        mailbox="INBOX",
    )
    assert answer.status_code == 400
    assert "internal address" in error_of(answer.text, "host")
    assert value_of(answer.text, "host") == "10.1.2.3" and "hunter22" not in answer.text
    answer = post_form(
        ada,
        "/admin/email",
        "/admin/email/mailboxes",
        **(mailbox | {"host": "127.0.0.1", "port": "99999"}),
    )
    assert error_of(answer.text, "port") == "must be 65535 or less"
    assert error_of(answer.text, "password") == "this is required"

    answer = post_form(
        ada,
        "/admin/email",
        "/admin/email/mailboxes",
        **(mailbox | {"host": "127.0.0.1"}),
        password="hunter22",
        mailbox="INBOX",
    )
    assert answer.headers["location"] == "/admin/email?done=mailbox-added"
    with database.session(tenant_id=people.tenant_a) as session:
        (box,) = session.scalars(select(ImapAccount)).all()
        box_id = box.id
    page = ada.get(answer.headers["location"]).text
    assert "Mailbox added" in page and f"/admin/email/mailboxes/{box_id}/delete" in page
    answer = post_form(ada, "/admin/email", f"/admin/email/mailboxes/{box_id}/delete")
    assert answer.headers["location"] == "/admin/email?done=mailbox-deleted"
    with database.session(tenant_id=people.tenant_a) as session:
        assert session.scalars(select(ImapAccount)).all() == []
        logged = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert logged == ["email_settings.update", "imap_account.create", "imap_account.delete"]


def test_discovery_quota_and_usage(database: Database, people: People, ada: TestClient) -> None:
    page = ada.get("/admin/discovery").text
    assert "Jobs created</dt><dd>0" in page and value_of(page, "ef_ceiling") == ""
    answer = post_form(
        ada, "/admin/discovery", "/admin/discovery", ef_ceiling="-1", job_rate_limit="lots"
    )
    assert answer.status_code == 400
    assert error_of(answer.text, "ef_ceiling") == "must be 0 or more"
    assert (
        error_of(answer.text, "job_rate_limit")
        == "write a rate as N/second, N/minute, N/hour or N/day"
    )
    assert value_of(answer.text, "job_rate_limit") == "lots"
    saved(
        post_form(
            ada, "/admin/discovery", "/admin/discovery", ef_ceiling="12.5", job_rate_limit="3"
        ),
        "/admin/discovery",
    )
    page = ada.get("/admin/discovery").text
    assert (value_of(page, "ef_ceiling"), value_of(page, "job_rate_limit")) == ("12.5", "3/minute")
    saved(
        post_form(ada, "/admin/discovery", "/admin/discovery", ef_ceiling=" ", job_rate_limit=""),
        "/admin/discovery",
    )
    assert tenant_policy(database, people.tenant_a) == {}  # blank: back to no ceiling, the default


def test_provider_app_credentials(database: Database, people: People, ada: TestClient) -> None:
    answer = post_form(
        ada,
        "/admin/provider-apps",
        "/admin/provider-apps",
        provider="x",
        client_id=" ",
        client_secret="s3cret-1",
    )
    assert answer.status_code == 400
    assert error_of(answer.text, "client_id") == "this is required"
    assert "s3cret-1" not in answer.text
    answer = post_form(
        ada,
        "/admin/provider-apps",
        "/admin/provider-apps",
        provider="x",
        client_id="abc",
        instance_url="https://mastodon.social",
    )
    assert "applies only to Mastodon" in answer.text
    saved(
        post_form(
            ada,
            "/admin/provider-apps",
            "/admin/provider-apps",
            provider="x",
            client_id="abc",
            client_secret="s3cret-1",
        ),
        "/admin/provider-apps",
    )
    saved(
        post_form(
            ada, "/admin/provider-apps", "/admin/provider-apps", provider="x", client_id="abd"
        ),
        "/admin/provider-apps",
    )  # an empty secret keeps the one set
    with database.session(tenant_id=people.tenant_a) as session:
        (app,) = session.scalars(select(ProviderApp)).all()
        assert (app.client_id, app.client_secret) == ("abd", "s3cret-1")
    page = ada.get("/admin/provider-apps").text
    assert "abd" in page and "s3cret-1" not in page


def test_a_form_without_its_token_changes_nothing(
    database: Database, people: People, ada: TestClient
) -> None:
    answer = ada.post(
        "/admin/publishing", data={"approval_required": "on"}, headers={"Accept": "text/html"}
    )
    assert answer.status_code == 403
    assert tenant_policy(database, people.tenant_a) == {}


def test_the_done_code_cannot_write_the_banner(ada: TestClient) -> None:
    page = ada.get("/admin/enrichment?done=%3Cb%3EYour+data+was+deleted%3C%2Fb%3E").text
    assert "Your data was deleted" not in page and 'class="notice ok"' not in page
    assert "Enrichment settings saved" in ada.get("/admin/enrichment?done=saved").text


def test_a_lower_case_phone_region_is_read_as_its_code(api: TestClient) -> None:
    answer = api.put("/api/email-settings", json={"default_region": " de "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["default_region"] == "DE"
    assert api.put("/api/email-settings", json={"default_region": "d1"}).status_code in (400, 422)
