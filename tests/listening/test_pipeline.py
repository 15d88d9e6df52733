"""Ingestion and actions through the service: what support and marketing rely on."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from socialcrm.core.db import Database
from socialcrm.core.notify import Notification
from socialcrm.crm.models import Activity, Campaign, Contact, Lead, Priority, Ticket, TicketStatus
from socialcrm.listening import actions, service
from socialcrm.listening.models import MentionMatch, SocialLead, SocialMention, SocialTicket
from tests.listening.factories import admin, ingest, make_rule, make_tenant, make_user, post


def count(db: Database, tenant_id: int, model: Any) -> int:
    with db.session(tenant_id=tenant_id) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def mention(db: Database, tenant_id: int, external_id: str) -> SocialMention:
    with db.session(tenant_id=tenant_id) as session:
        found = session.scalars(
            select(SocialMention).where(SocialMention.external_id == external_id)
        ).one()
        session.expunge(found)
        return found


def test_normalised_with_language_sentiment_and_match(database: Database) -> None:
    tenant = make_tenant(database)
    rule = make_rule(database, tenant, query="acme AND (broken OR awful)")
    result = ingest(
        database,
        tenant,
        post("My Acme phone is broken and support is awful", external_id="t1"),
        post("Acme is wonderful, I love it!", external_id="t2"),
        post("Mon téléphone Acme est cassé, c'est nul :(", external_id="t3"),
    )
    assert (result.stored, result.matched) == (3, 1)
    broken = mention(database, tenant, "t1")
    assert (broken.language, broken.sentiment_label, broken.rule_ids) == ("en", "negative", [rule])
    assert broken.sentiment_score < -0.05 and broken.sentiment_method == "vader"
    assert mention(database, tenant, "t2").sentiment_label == "positive"
    french = mention(database, tenant, "t3")
    assert french.language == "fr"
    assert (french.sentiment_method, french.sentiment_label) == ("emoji", "negative")


def test_idempotent_on_network_and_external_id(database: Database) -> None:
    tenant = make_tenant(database)
    make_rule(database, tenant, query="acme", actions=["notify"])
    first = ingest(database, tenant, post("acme", external_id="1"), post("acme", external_id="1"))
    again = ingest(database, tenant, post("acme", external_id="1"))
    other_network = ingest(database, tenant, post("acme", external_id="1", network="mastodon"))
    assert (first.stored, again.stored, again.duplicates, other_network.stored) == (1, 0, 1, 1)
    assert count(database, tenant, MentionMatch) == 2
    assert count(database, tenant, Notification) == 2


def test_actions_fire_exactly_once_after_a_crash_and_retry(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(database)
    make_rule(database, tenant, query="refund", actions=["lead", "ticket", "notify"])
    real = actions.open_or_join_ticket
    crashes = {"left": 1}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker died mid-batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(actions, "open_or_join_ticket", crash_once)
    items = [post("I want a refund", external_id="r1", author="ann")]
    with pytest.raises(RuntimeError):
        ingest(database, tenant, *items)
    # The crashed unit of work left nothing behind: no half-fired actions.
    assert count(database, tenant, SocialMention) == 0
    assert count(database, tenant, Lead) == 0
    for _ in range(3):  # the queue retries, maybe more than once
        ingest(database, tenant, *items)
    assert count(database, tenant, MentionMatch) == 1
    assert count(database, tenant, Lead) == 1
    assert count(database, tenant, Ticket) == 1
    assert count(database, tenant, Notification) == 1


def test_ledger_refuses_a_second_firing(database: Database) -> None:
    tenant = make_tenant(database)
    rule = make_rule(database, tenant, query="acme")
    ingest(database, tenant, post("acme", external_id="m"))
    stored = mention(database, tenant, "m")
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.session(tenant_id=tenant) as session:
        session.add(MentionMatch(mention_id=stored.id, rule_id=rule))
        session.flush()


def add_contact(db: Database, tenant_id: int, **values: Any) -> int:
    from socialcrm.crm import service as crm

    with db.session(tenant_id=tenant_id) as session:
        return crm.create(session, Contact, {"name": "Known", **values}).id


def test_lead_dedupe_one_platform_user_one_lead(database: Database) -> None:
    tenant = make_tenant(database)
    campaign = 0
    with database.session(tenant_id=tenant) as session:
        c = Campaign(name="Spring")
        session.add(c)
        session.flush()
        campaign = c.id
    make_rule(database, tenant, query="pricing", actions=["lead"], campaign_id=campaign)
    ingest(database, tenant, post("pricing please", author="bob", user_id="77"))
    ingest(database, tenant, post("pricing again?", author="bob_renamed", user_id="77"))
    ingest(database, tenant, post("pricing for teams", author="carol", user_id="78"))
    assert count(database, tenant, Lead) == 2
    with database.session(tenant_id=tenant) as session:
        bob = session.scalars(select(SocialLead).where(SocialLead.author_user_id == "77")).one()
        lead = session.get(Lead, bob.lead_id)
        assert lead is not None and lead.campaign_id == campaign
        assert lead.source.startswith("social:x")
        linked = session.scalars(
            select(SocialMention.lead_id).where(SocialMention.author_user_id == "77")
        )
        assert set(linked) == {bob.lead_id}
        attributed = session.scalars(select(SocialMention.campaign_id)).all()
        assert set(attributed) == {campaign}  # campaign attribution rides along
        assert session.scalar(select(func.count()).select_from(Activity)) == 3


def test_customers_do_not_become_leads(database: Database) -> None:
    tenant = make_tenant(database)
    contact = add_contact(
        database, tenant, handles=[{"network": "x", "handle": "dora", "user_id": "55"}]
    )
    make_rule(database, tenant, query="pricing", actions=["lead"])
    ingest(database, tenant, post("pricing?", author="dora", user_id="55", external_id="d1"))
    assert count(database, tenant, Lead) == 0
    assert mention(database, tenant, "d1").contact_id == contact


def test_ticket_grouping_by_conversation(database: Database) -> None:
    tenant = make_tenant(database)
    make_rule(database, tenant, query="broken", support=True)
    ingest(database, tenant, post("my acme is broken", external_id="100", author="eve"))
    ingest(
        database,
        tenant,
        post("still broken!!", external_id="101", author="eve", in_reply_to_id="100"),
        post("broken here too", external_id="102", author="fay", in_reply_to_id="101"),
    )
    ingest(database, tenant, post("something else broken", external_id="200", author="gus"))
    assert count(database, tenant, Ticket) == 2
    first = mention(database, tenant, "100")
    assert mention(database, tenant, "101").ticket_id == first.ticket_id
    assert mention(database, tenant, "102").ticket_id == first.ticket_id
    assert mention(database, tenant, "102").conversation_id == "100"
    with database.session(tenant_id=tenant) as session:
        ticket = session.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status = TicketStatus.CLOSED
    ingest(database, tenant, post("broken again", external_id="103", in_reply_to_id="100"))
    reopened = mention(database, tenant, "103")
    assert reopened.ticket_id not in (None, first.ticket_id)  # a closed ticket is not joined


def test_ticket_sla_and_queue_follow_the_customer_tier(database: Database) -> None:
    policy = {"support": {"first_response_minutes": {"platinum": 15}}}
    tenant = make_tenant(database, policy=policy)
    add_contact(database, tenant, tier="platinum", handles=[{"network": "x", "handle": "vip"}])
    make_rule(database, tenant, query="help", support=True)
    ingest(database, tenant, post("help!", author="vip", external_id="v1"))
    ingest(database, tenant, post("help!", author="nobody", external_id="g1"))
    with database.session(tenant_id=tenant) as session:
        vip_ticket = session.get(Ticket, mention(database, tenant, "v1").ticket_id)
        guest_ticket = session.get(Ticket, mention(database, tenant, "g1").ticket_id)
        assert vip_ticket is not None and guest_ticket is not None
        assert (vip_ticket.queue, vip_ticket.priority) == ("priority", Priority.URGENT)
        assert vip_ticket.contact_id is not None
        assert (guest_ticket.queue, guest_ticket.priority) == ("general", Priority.LOW)
        slas = {
            s.tier: due - s.created_at
            for s, due in session.execute(
                select(SocialTicket, Ticket.first_response_due_at).join(
                    Ticket, Ticket.id == SocialTicket.ticket_id
                )
            )
        }
    assert slas["platinum"].total_seconds() == 15 * 60  # the tenant's policy
    assert slas["guest"].total_seconds() == 480 * 60  # the default for unknown guests


def test_lead_routing_round_robin_language_and_keyword(database: Database) -> None:
    tenant = make_tenant(database)
    ann = make_user(database, tenant, "ann@l.test")
    ben = make_user(database, tenant, "ben@l.test")
    fr = make_user(database, tenant, "fr@l.test")
    vip = make_user(database, tenant, "ent@l.test")
    with database.session(tenant_id=tenant) as session:
        for position, values in enumerate(
            [
                {"kind": "keyword", "values": ["enterprise"], "user_ids": [vip]},
                {"kind": "language", "values": ["fr"], "user_ids": [fr]},
                {"kind": "round_robin", "values": [], "user_ids": [ann, ben]},
            ]
        ):
            service.create_routing_rule(session, admin(tenant), {**values, "position": position})
    make_rule(database, tenant, query="demo", actions=["lead"])
    ingest(
        database,
        tenant,
        post("can I get a demo for our enterprise?", author="a1"),
        post("je voudrais une demo de votre produit", author="a2"),
        post("demo please, it looks great", author="a3"),
        post("another demo request from me", author="a4"),
        post("a demo would be lovely", author="a5"),
    )
    with database.session(tenant_id=tenant) as session:
        routed = {s.author_handle: s.assignee_id for s in session.scalars(select(SocialLead))}
        notes = session.scalars(
            select(Notification.user_id).where(Notification.kind == "lead_assigned")
        ).all()
    assert routed == {"a1": vip, "a2": fr, "a3": ann, "a4": ben, "a5": ann}
    assert sorted(notes) == sorted(routed.values())


def test_notify_action_reaches_the_owner(database: Database) -> None:
    tenant = make_tenant(database)
    owner = make_user(database, tenant, "owner@l.test")
    make_rule(database, tenant, query="acme", actions=["notify"], owner_id=owner)
    ingest(database, tenant, post("acme rocks", author="zed"))
    with database.session(tenant_id=tenant) as session:
        note = session.scalars(select(Notification)).one()
    assert note.user_id == owner and "@zed" in note.message and note.kind == "listening_match"


def test_manual_escalation_joins_the_open_ticket(database: Database) -> None:
    tenant = make_tenant(database)
    ingest(
        database,
        tenant,
        post("hello", external_id="500", author="kim"),
        post("hello again", external_id="501", author="kim", in_reply_to_id="500"),
    )
    first, second = mention(database, tenant, "500"), mention(database, tenant, "501")
    with database.session(tenant_id=tenant) as session:
        opened = service.convert_to_ticket(session, admin(tenant), first.id)
        joined = service.convert_to_ticket(session, admin(tenant), second.id)
        again = service.convert_to_ticket(session, admin(tenant), second.id)
    assert opened.created and not joined.created and not again.created
    assert opened.ticket_id == joined.ticket_id == again.ticket_id
