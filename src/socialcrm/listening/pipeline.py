"""Ingestion: normalise, analyse, match all rules in one pass, persist in batches, act
(the actions a rule fires are in ``listening.actions``).

Everything a batch causes (mentions, the (mention, rule) ledger, Leads, Tickets, notifications,
outbound webhook deliveries) is written in the caller's unit of work, so it commits or vanishes
together. A retried batch finds its mentions stored and does nothing again; the unique
(mention_id, rule_id) ledger makes a second firing of a rule on a mention impossible.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import SocialAccount
from socialcrm.core.db import utcnow
from socialcrm.core.notify import notify
from socialcrm.listening import actions, analysis, delivery, live
from socialcrm.listening.matcher import CompiledRule, GeoCircle, MentionFeatures, RuleIndex
from socialcrm.listening.models import ListeningRule, MentionMatch, SocialMention
from socialcrm.listening.query import parse
from socialcrm.providers.base import PostData
from socialcrm.tenancy.models import Tenant

ACTIONS = ("lead", "ticket", "notify", "campaign")
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Incoming:
    """A post, DM or lead-form submission as any source hands it to the pipeline."""

    network: str
    external_id: str
    text: str
    author_user_id: str = ""
    author_handle: str = ""
    author_name: str = ""
    posted_at: datetime | None = None
    kind: str = "mention"
    account_id: int | None = None
    url: str = ""
    in_reply_to_id: str | None = None
    conversation_id: str = ""
    language: str = ""  # as the network declared it
    lat: float | None = None
    lon: float | None = None
    country: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    campaign_id: int | None = None


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    matched: int = 0
    leads: int = 0
    tickets: int = 0
    mention_ids: list[int] = field(default_factory=list)


def from_post(post: PostData, account_id: int | None) -> Incoming:
    metrics = {
        k: v
        for k, v in {
            "likes": post.likes,
            "reposts": post.reposts,
            "replies": post.replies,
            "impressions": post.impressions,
        }.items()
        if v is not None
    }
    return Incoming(
        network=post.network,
        external_id=post.id,
        text=post.text,
        author_user_id=post.author_user_id,
        author_handle=post.author_handle,
        posted_at=post.created_at,
        account_id=account_id,
        url=post.url,
        in_reply_to_id=post.in_reply_to_id,
        metrics=metrics,
    )


# --- compiling a tenant's rules -----------------------------------------------------------


def compile_rule(rule: ListeningRule, handles: dict[int, str]) -> CompiledRule:
    geo = rule.geo or None
    brand_ids = frozenset(int(a) for a in rule.brand_account_ids or [])
    return CompiledRule(
        id=rule.id,
        query=parse(rule.query or ""),
        networks=frozenset(rule.networks or []),
        account_ids=frozenset(int(a) for a in rule.account_ids or []),
        brand_account_ids=brand_ids,
        brand_handles=frozenset(f"@{handles[a].lower()}" for a in brand_ids if a in handles),
        languages=frozenset(rule.languages or []),
        countries=frozenset(rule.countries or []),
        geo=GeoCircle(float(geo["lat"]), float(geo["lon"]), float(geo["radius_km"]))
        if geo
        else None,
        sentiments=frozenset(rule.sentiments or []),
    )


def account_handles(session: Session) -> dict[int, str]:
    rows = session.execute(select(SocialAccount.id, SocialAccount.handle))
    return {int(i): str(h) for i, h in rows}


_cache_lock = threading.Lock()
_index_cache: dict[int, tuple[tuple[Any, ...], RuleIndex, dict[int, ListeningRuleView]]] = {}


@dataclass(frozen=True, slots=True)
class ListeningRuleView:
    """What actions need of a rule, detached from any session."""

    id: int
    name: str
    support: bool
    owner_id: int | None
    campaign_id: int | None
    actions: tuple[str, ...]


def effective_actions(rule: ListeningRule | ListeningRuleView) -> tuple[str, ...]:
    wanted = list(rule.actions or [])
    if rule.support and "ticket" not in wanted:
        wanted.append("ticket")
    if rule.campaign_id and "campaign" not in wanted:
        wanted.append("campaign")
    return tuple(a for a in ACTIONS if a in wanted)


def tenant_index(
    session: Session, tenant_id: int
) -> tuple[RuleIndex, dict[int, ListeningRuleView]]:
    """The tenant's active rules, compiled once per version of them."""
    signature = tuple(
        session.execute(
            select(
                func.count(ListeningRule.id),
                func.max(ListeningRule.id),
                func.max(ListeningRule.updated_at),
            ).where(ListeningRule.active.is_(True))
        ).one()
    )
    with _cache_lock:
        cached = _index_cache.get(tenant_id)
    if cached is not None and cached[0] == signature:
        return cached[1], cached[2]
    rules = list(
        session.scalars(
            select(ListeningRule).where(ListeningRule.active.is_(True)).order_by(ListeningRule.id)
        )
    )
    handles = account_handles(session)
    index = RuleIndex.build(compile_rule(r, handles) for r in rules)
    views = {
        r.id: ListeningRuleView(
            r.id, r.name, r.support, r.owner_id, r.campaign_id, effective_actions(r)
        )
        for r in rules
    }
    with _cache_lock:
        _index_cache[tenant_id] = (signature, index, views)
    return index, views


# --- the batch ----------------------------------------------------------------------------


def _existing_ids(session: Session, items: Sequence[Incoming]) -> set[tuple[str, str]]:
    by_network: dict[str, list[str]] = {}
    for item in items:
        by_network.setdefault(item.network, []).append(item.external_id)
    found: set[tuple[str, str]] = set()
    for network, ids in by_network.items():
        for start in range(0, len(ids), CHUNK):
            rows = session.scalars(
                select(SocialMention.external_id).where(
                    SocialMention.network == network,
                    SocialMention.external_id.in_(ids[start : start + CHUNK]),
                )
            )
            found.update((network, r) for r in rows)
    return found


def _conversations(session: Session, items: Sequence[Incoming]) -> dict[tuple[str, str], str]:
    """Conversation of each item: the network's, else its parent's, else the post itself."""
    parents: dict[str, set[str]] = {}
    for item in items:
        if not item.conversation_id and item.in_reply_to_id:
            parents.setdefault(item.network, set()).add(item.in_reply_to_id)
    known: dict[tuple[str, str], str] = {}
    for network, ids in parents.items():
        rows = session.execute(
            select(SocialMention.external_id, SocialMention.conversation_id).where(
                SocialMention.network == network, SocialMention.external_id.in_(list(ids))
            )
        )
        known.update({(network, e): c for e, c in rows})
    result: dict[tuple[str, str], str] = {}
    for item in items:  # oldest first: a reply's parent earlier in the batch is already known
        key = (item.network, item.external_id)
        if item.conversation_id:
            result[key] = item.conversation_id
        elif item.in_reply_to_id:
            parent = (item.network, item.in_reply_to_id)
            result[key] = result.get(parent) or known.get(parent) or item.in_reply_to_id
        else:
            result[key] = item.external_id
    return result


def _row(
    tenant_id: int, item: Incoming, conversation: str, now: datetime, languages: frozenset[str]
) -> dict[str, Any]:
    language = analysis.detect_language(item.text, item.language, languages)
    mood = analysis.score_sentiment(item.text, language)
    return {
        "tenant_id": tenant_id,
        "network": item.network,
        "external_id": item.external_id[:300],
        "kind": item.kind,
        "account_id": item.account_id,
        "conversation_id": conversation[:300],
        "in_reply_to_id": item.in_reply_to_id,
        "author_user_id": item.author_user_id[:200],
        "author_handle": item.author_handle[:320],
        "author_name": item.author_name[:200],
        "text": item.text,
        "language": language,
        "sentiment_score": mood.score,
        "sentiment_label": mood.label,
        "sentiment_method": mood.method,
        "lat": item.lat,
        "lon": item.lon,
        "country": item.country.upper()[:2],
        "url": item.url[:1000],
        "posted_at": item.posted_at or now,
        "ingested_at": now,
        "metrics": item.metrics,
        "details": item.details,
        "rule_ids": [],
        "campaign_id": item.campaign_id,
        "contact_id": None,
        "lead_id": None,
        "ticket_id": None,
    }


def _expected_languages(session: Session, tenant_id: int) -> frozenset[str]:
    tenant = session.get(Tenant, tenant_id)
    listening = (tenant.policy if tenant is not None else {}).get("listening") or {}
    return analysis.expected_languages(listening.get("languages"))


def ingest(session: Session, tenant_id: int, items: Iterable[Incoming]) -> IngestResult:
    """Store what is new of ``items`` and fire the matching rules' actions, in this unit of work."""
    batch = list({(i.network, i.external_id): i for i in items if i.external_id}.values())
    result = IngestResult(received=len(batch))
    if not batch:
        return result
    existing = _existing_ids(session, batch)
    fresh = [i for i in batch if (i.network, i.external_id) not in existing]
    result.duplicates = len(batch) - len(fresh)
    if not fresh:
        return result
    index, views = tenant_index(session, tenant_id)
    conversations = _conversations(session, fresh)
    languages = _expected_languages(session, tenant_id)
    now = utcnow()
    rows = []
    for item in fresh:
        key = (item.network, item.external_id)
        row = _row(tenant_id, item, conversations[key], now, languages)
        row["rule_ids"] = index.match(
            MentionFeatures(
                network=item.network,
                text=item.text,
                account_id=item.account_id,
                language=row["language"],
                country=row["country"],
                lat=item.lat,
                lon=item.lon,
                sentiment=row["sentiment_label"],
                kind=item.kind,
            )
        )
        rows.append(row)
    # RETURNING the key with the id, not ``sort_by_parameter_order``: SQLite has no sentinel
    # for that, and SQLAlchemy would then insert one row per statement.
    returned = session.execute(
        insert(SocialMention).returning(
            SocialMention.id, SocialMention.network, SocialMention.external_id
        ),
        rows,
    )
    id_of = {(network, external_id): int(i) for i, network, external_id in returned}
    ids = [id_of[(row["network"], row["external_id"])] for row in rows]
    result.stored, result.mention_ids = len(ids), ids
    ledger = [
        {
            "tenant_id": tenant_id,
            "mention_id": mention_id,
            "rule_id": rule_id,
            "actions_done": list(views[rule_id].actions),
            "fired_at": now,
        }
        for mention_id, row in zip(ids, rows, strict=True)
        for rule_id in row["rule_ids"]
    ]
    if ledger:
        session.execute(insert(MentionMatch), ledger)
    result.matched = sum(1 for row in rows if row["rule_ids"])
    acting = [
        (mention_id, row)
        for mention_id, row in zip(ids, rows, strict=True)
        if row["kind"] != "mention" or any(views[r].actions for r in row["rule_ids"])
    ]
    if acting:
        mentions = {
            m.id: m
            for m in session.scalars(
                select(SocialMention).where(SocialMention.id.in_([i for i, _ in acting]))
            )
        }
        for mention_id, row in acting:
            mention = mentions[mention_id]
            _act(session, tenant_id, mention, [views[r] for r in row["rule_ids"]], result)
    for mention_id, row in zip(ids, rows, strict=True):
        if row["rule_ids"]:
            delivery.emit(
                session,
                "mention.matched",
                f"mention.matched:{mention_id}",
                {"mention_id": mention_id, "rule_ids": row["rule_ids"], "text": row["text"][:500]},
            )
    live.publish_after_commit(session, tenant_id, "mentions", {"ids": ids, "count": len(ids)})
    return result


def _act(
    session: Session,
    tenant_id: int,
    mention: SocialMention,
    rules: Sequence[ListeningRuleView],
    result: IngestResult,
) -> None:
    for rule in rules:
        if "campaign" in rule.actions and rule.campaign_id and mention.campaign_id is None:
            actions.attribute_to_campaign(session, mention, rule.campaign_id)
    if mention.kind in ("dm", "lead_form") or any("lead" in r.actions for r in rules):
        lead_rule = next((r for r in rules if "lead" in r.actions), None)
        campaign = mention.campaign_id or (lead_rule.campaign_id if lead_rule else None)
        outcome = actions.capture_lead(
            session,
            tenant_id,
            mention,
            campaign_id=campaign,
            fallback_owner=lead_rule.owner_id if lead_rule else None,
        )
        result.leads += 1 if outcome.created else 0
    ticket_rule = next((r for r in rules if "ticket" in r.actions), None)
    if ticket_rule is not None:
        outcome_t = actions.open_or_join_ticket(
            session, tenant_id, mention, assignee_id=ticket_rule.owner_id
        )
        result.tickets += 1 if outcome_t.created else 0
    for rule in rules:
        if "notify" in rule.actions:
            notify_owner(session, tenant_id, mention, rule)


def notify_owner(
    session: Session, tenant_id: int, mention: SocialMention, rule: ListeningRuleView
) -> None:
    message = f"“{rule.name}” matched @{mention.author_handle} on {mention.network}: {mention.text}"
    note = notify(
        session,
        user_id=rule.owner_id,
        kind="listening_match",
        message=message[:500],
        link=f"/listening/inbox#mention-{mention.id}",
    )
    session.flush()
    live.publish_after_commit(
        session,
        tenant_id,
        "notification",
        {"id": note.id, "user_id": rule.owner_id, "message": note.message, "link": note.link},
    )
