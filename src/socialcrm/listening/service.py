"""Listening use cases on the request side: rules and their preview, the inbox (and an agent's
Ticket or Lead from a mention), lead routing, settings, inbound webhook endpoints and outbound
subscriptions. Polling and receiving (the workflows that own their sessions) are in
``listening.ingestion``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import SocialAccount
from socialcrm.core import audit
from socialcrm.core.days import as_day, bounds, utc_day, window
from socialcrm.core.db import utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.numbers import parse_cursor
from socialcrm.core.principal import Principal, Role
from socialcrm.crm.models import Campaign
from socialcrm.listening import actions, delivery, pipeline
from socialcrm.listening.matcher import MentionFeatures, RuleIndex
from socialcrm.listening.models import (
    InboundWebhook,
    LeadRoutingRule,
    ListeningRule,
    MentionMatch,
    SocialMention,
    WebhookSubscription,
)
from socialcrm.listening.policy import ListeningPolicy
from socialcrm.listening.query import QuerySyntaxError, parse
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy.models import Tenant, User

log = structlog.get_logger(__name__)

EDITORS = (Role.ADMIN, Role.MARKETING)
PREVIEW_DAYS = 7
PREVIEW_SCAN = 20_000


def require_editor(principal: Principal) -> None:
    if principal.role not in EDITORS:
        raise Forbidden("listening rules are managed by admins and marketing users")


# --- rules --------------------------------------------------------------------------------


def check_rule_values(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Validate what the schema cannot: the query, and references inside the tenant."""
    try:
        parse(values.get("query", "") or "")
    except QuerySyntaxError as exc:
        raise ValidationFailed(
            f"the query is not valid: {exc}", details={"field": "query", "position": exc.position}
        ) from exc
    for network in values.get("networks", []) or []:
        if network not in PROVIDERS:
            raise ValidationFailed(f"unknown network {network!r}", details={"field": "networks"})
    for name in ("account_ids", "brand_account_ids"):
        for account_id in values.get(name, []) or []:
            if session.get(SocialAccount, account_id) is None:
                raise ValidationFailed(
                    f"connected account {account_id} does not exist", details={"field": name}
                )
    if values.get("owner_id") is not None and session.get(User, values["owner_id"]) is None:
        raise ValidationFailed("owner_id does not exist", details={"field": "owner_id"})
    campaign = values.get("campaign_id")
    if campaign is not None and session.get(Campaign, campaign) is None:
        raise ValidationFailed("campaign_id does not exist", details={"field": "campaign_id"})
    return values


def create_rule(session: Session, principal: Principal, values: dict[str, Any]) -> ListeningRule:
    require_editor(principal)
    rule = ListeningRule(**check_rule_values(session, values))
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="listening_rule.create",
        target_type="listening_rule",
        target_id=rule.id,
        details={"name": rule.name},
    )
    return rule


def get_rule(session: Session, rule_id: int) -> ListeningRule:
    rule = session.get(ListeningRule, rule_id)
    if rule is None:
        raise NotFound(f"listening rule {rule_id} not found")
    return rule


def update_rule(
    session: Session, principal: Principal, rule_id: int, changes: dict[str, Any]
) -> ListeningRule:
    require_editor(principal)
    rule = get_rule(session, rule_id)
    check_rule_values(session, changes)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.updated_at = utcnow()
    session.flush()
    return rule


def delete_rule(session: Session, principal: Principal, rule_id: int) -> None:
    require_editor(principal)
    session.delete(get_rule(session, rule_id))
    session.flush()


def list_rules(session: Session) -> list[ListeningRule]:
    return list(session.scalars(select(ListeningRule).order_by(ListeningRule.id)))


@dataclass(frozen=True, slots=True)
class Preview:
    scanned: int
    matched: int
    samples: list[SocialMention]


def preview(session: Session, values: dict[str, Any], *, limit: int = 50) -> Preview:
    """What an unsaved rule would have matched among the mentions of the last 7 days."""
    check_rule_values(session, values)
    draft = ListeningRule(id=0, **values)
    compiled = pipeline.compile_rule(draft, pipeline.account_handles(session))
    index = RuleIndex.build([compiled])
    since = utcnow() - timedelta(days=PREVIEW_DAYS)
    mentions = session.scalars(
        select(SocialMention)
        .where(SocialMention.posted_at >= since)
        .order_by(SocialMention.posted_at.desc(), SocialMention.id.desc())
        .limit(PREVIEW_SCAN)
    ).all()
    hits = [m for m in mentions if index.match(features_of(m))]
    return Preview(scanned=len(mentions), matched=len(hits), samples=hits[:limit])


def features_of(m: SocialMention) -> MentionFeatures:
    return MentionFeatures(
        network=m.network,
        text=m.text,
        account_id=m.account_id,
        language=m.language,
        country=m.country,
        lat=m.lat,
        lon=m.lon,
        sentiment=m.sentiment_label,
        kind=m.kind,
    )


# --- the inbox ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFilters:
    rule_id: int | None = None
    sentiment: str | None = None
    network: str | None = None
    language: str | None = None
    has_lead: bool | None = None
    has_ticket: bool | None = None


@dataclass(frozen=True, slots=True)
class MentionPageOut:
    items: list[SocialMention]
    next_cursor: str | None


def _inbox_where(filters: InboxFilters) -> list[ColumnElement[bool]]:
    """The inbox's filters as conditions: the list and its chart show the same mentions."""
    where: list[ColumnElement[bool]] = []
    if filters.rule_id is not None:
        where.append(
            SocialMention.id.in_(
                select(MentionMatch.mention_id).where(MentionMatch.rule_id == filters.rule_id)
            )
        )
    if filters.sentiment:
        where.append(SocialMention.sentiment_label == filters.sentiment)
    if filters.network:
        where.append(SocialMention.network == filters.network)
    if filters.language:
        where.append(SocialMention.language == filters.language)
    if filters.has_lead is not None:
        lead = SocialMention.lead_id
        where.append(lead.is_not(None) if filters.has_lead else lead.is_(None))
    if filters.has_ticket is not None:
        ticket = SocialMention.ticket_id
        where.append(ticket.is_not(None) if filters.has_ticket else ticket.is_(None))
    return where


def list_mentions(
    session: Session, filters: InboxFilters, *, limit: int = 50, cursor: str | None = None
) -> MentionPageOut:
    stmt = select(SocialMention).where(*_inbox_where(filters))
    if (before := parse_cursor(cursor)) is not None:
        stmt = stmt.where(SocialMention.id < before)
    rows = list(session.scalars(stmt.order_by(SocialMention.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    items = rows[:limit]
    return MentionPageOut(items, str(items[-1].id) if more and items else None)


SENTIMENTS = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class MentionVolume:
    """Mentions per UTC day of a window, split by sentiment (one count per day each)."""

    days: list[date]
    counts: dict[str, list[int]]

    @property
    def net(self) -> list[int]:
        """Positive minus negative mentions, per day: below zero on a bad day."""
        pairs = zip(self.counts["positive"], self.counts["negative"], strict=True)
        return [positive - negative for positive, negative in pairs]

    @property
    def total(self) -> int:
        return sum(sum(per_day) for per_day in self.counts.values())


def mention_volume(
    session: Session, filters: InboxFilters, *, last: date, days: int
) -> MentionVolume:
    """The inbox's mentions of the ``days`` days ending ``last`` counted per day and sentiment,
    in one grouped query over the tenant's ``posted_at`` index."""
    span = window(last, days)
    low, high = bounds(span[0], span[-1])
    day = utc_day(SocialMention.posted_at)
    in_window = (SocialMention.posted_at >= low, SocialMention.posted_at < high)
    rows = session.execute(
        select(day, SocialMention.sentiment_label, func.count())
        .where(*_inbox_where(filters), *in_window)
        .group_by(day, SocialMention.sentiment_label)
    )
    index = {d: i for i, d in enumerate(span)}
    counts = {label: [0] * days for label in SENTIMENTS}
    for when, label, n in rows:
        at = index.get(as_day(when))
        if at is not None:
            counts[label if label in counts else "neutral"][at] += int(n)
    return MentionVolume(span, counts)


def get_mention(session: Session, mention_id: int) -> SocialMention:
    mention = session.get(SocialMention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} not found")
    return mention


def convert_to_ticket(
    session: Session, principal: Principal, mention_id: int
) -> actions.TicketOutcome:
    """An agent escalates a mention: it joins its conversation's open Ticket or opens one."""
    mention = get_mention(session, mention_id)
    outcome = actions.open_or_join_ticket(
        session, principal.tenant_id, mention, assignee_id=principal.user_id
    )
    audit.record(
        session,
        actor=principal.actor,
        action="mention.convert_to_ticket",
        target_type="social_mention",
        target_id=mention.id,
        details={"ticket_id": outcome.ticket_id, "created": outcome.created},
    )
    return outcome


def create_lead(session: Session, principal: Principal, mention_id: int) -> actions.LeadOutcome:
    mention = get_mention(session, mention_id)
    outcome = actions.capture_lead(
        session,
        principal.tenant_id,
        mention,
        campaign_id=mention.campaign_id,
        fallback_owner=principal.user_id,
    )
    if outcome.contact_id is not None:
        raise Conflict(
            "the author is already a customer: no lead",
            details={"contact_id": outcome.contact_id},
        )
    return outcome


# --- lead routing -------------------------------------------------------------------------


def create_routing_rule(
    session: Session, principal: Principal, values: dict[str, Any]
) -> LeadRoutingRule:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin sets lead routing")
    for user_id in values.get("user_ids", []):
        if session.get(User, user_id) is None:
            raise ValidationFailed(f"user {user_id} does not exist", details={"field": "user_ids"})
    rule = LeadRoutingRule(**values)
    session.add(rule)
    session.flush()
    return rule


def list_routing_rules(session: Session) -> list[LeadRoutingRule]:
    stmt = select(LeadRoutingRule).order_by(LeadRoutingRule.position, LeadRoutingRule.id)
    return list(session.scalars(stmt))


def delete_routing_rule(session: Session, principal: Principal, rule_id: int) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin sets lead routing")
    rule = session.get(LeadRoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"routing rule {rule_id} not found")
    session.delete(rule)
    session.flush()


# --- settings ---------------------------------------------------------------------------------


def tenant_policy(session: Session, tenant_id: int) -> ListeningPolicy:
    tenant = session.get(Tenant, tenant_id)
    raw = (tenant.policy if tenant is not None else {}).get("listening") or {}
    return ListeningPolicy.model_validate(raw)


def update_policy(
    session: Session, principal: Principal, policy: ListeningPolicy
) -> ListeningPolicy:
    """Admin only; audit-logged. Applies to mentions ingested from now on."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the listening settings")
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    tenant.policy = {**tenant.policy, "listening": policy.model_dump(mode="json")}
    audit.record(
        session,
        actor=principal.actor,
        action="listening.settings.update",
        target_type="tenant",
        target_id=principal.tenant_id,
        details={"languages": policy.languages},
    )
    session.flush()
    return policy


# --- inbound webhooks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewInboundWebhook:
    endpoint: InboundWebhook
    secret: str
    verify_token: str


def create_inbound_webhook(
    session: Session, principal: Principal, values: dict[str, Any]
) -> NewInboundWebhook:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin creates webhook endpoints")
    if (
        values.get("account_id") is not None
        and session.get(SocialAccount, values["account_id"]) is None
    ):
        raise ValidationFailed("account_id does not exist", details={"field": "account_id"})
    if (
        values.get("campaign_id") is not None
        and session.get(Campaign, values["campaign_id"]) is None
    ):
        raise ValidationFailed("campaign_id does not exist", details={"field": "campaign_id"})
    secret = values.pop("secret", None) or secrets.token_urlsafe(32)
    verify_token = secrets.token_urlsafe(16)
    endpoint = InboundWebhook(
        token=secrets.token_urlsafe(24), secret=secret, verify_token=verify_token, **values
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="listening_webhook.create",
        target_type="listening_inbound_webhook",
        target_id=endpoint.id,
        details={"style": endpoint.style, "network": endpoint.network},
    )
    return NewInboundWebhook(endpoint, secret, verify_token)


def list_inbound_webhooks(session: Session, principal: Principal) -> list[InboundWebhook]:
    """The tenant's receiving URLs (their path token is the endpoint's only address): admins."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin sees webhook endpoints")
    return list(session.scalars(select(InboundWebhook).order_by(InboundWebhook.id)))


def delete_inbound_webhook(session: Session, principal: Principal, endpoint_id: int) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin removes webhook endpoints")
    endpoint = session.get(InboundWebhook, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    session.delete(endpoint)
    session.flush()


# --- outbound webhooks --------------------------------------------------------------------


def create_subscription(
    session: Session, principal: Principal, values: dict[str, Any]
) -> tuple[WebhookSubscription, str]:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin adds outbound webhooks")
    delivery.check_target(str(values["url"]))
    secret = secrets.token_urlsafe(32)
    sub = WebhookSubscription(secret=secret, **values)
    session.add(sub)
    session.flush()
    return sub, secret


def list_subscriptions(session: Session, principal: Principal) -> list[WebhookSubscription]:
    """Where the tenant's events go (its own systems' addresses): admins."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin sees outbound webhooks")
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def delete_subscription(session: Session, principal: Principal, sub_id: int) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin removes outbound webhooks")
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound(f"webhook subscription {sub_id} not found")
    session.delete(sub)
    session.flush()
