"""The one adapter from attribution to listening (issue 7): inbound mentions and lead-form
submissions of a campaign, by sentiment and by day.

Listening offers no aggregate service function yet, so this reads its ``SocialMention`` model
read-only, in the caller's tenant-scoped session. If the listening package is absent the
numbers are reported as unavailable instead of as zeros.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core.days import as_day, utc_day

UNAVAILABLE_NOTE = "inbound mentions are not available: the listening module is not installed"

try:
    from socialcrm.listening.models import SocialMention
except ImportError:  # pragma: no cover - listening is a separate capability
    SocialMention = None  # type: ignore[assignment,misc]


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    from datetime import UTC

    low = datetime.combine(start, time.min, UTC) if start else None
    high = datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None
    return low, high


def campaign_mentions(
    session: Session, campaign_id: int, start: date | None, end: date | None
) -> dict[str, Any]:
    if SocialMention is None:
        return {"available": False, "total": 0, "by_sentiment": {}, "lead_forms": 0, "series": []}
    low, high = _bounds(start, end)
    where = [SocialMention.campaign_id == campaign_id]
    if low is not None:
        where.append(SocialMention.posted_at >= low)
    if high is not None:
        where.append(SocialMention.posted_at < high)
    # One pass: by day, kind and sentiment; totals are summed here, not by a second scan.
    day = utc_day(SocialMention.posted_at)  # PostgreSQL's date() would use the session's zone
    rows = session.execute(
        select(day, SocialMention.kind, SocialMention.sentiment_label, func.count())
        .where(*where)
        .group_by(day, SocialMention.kind, SocialMention.sentiment_label)
        .order_by(day)
    ).all()
    by_sentiment: dict[str, int] = {}
    lead_forms = 0
    series: dict[str, dict[str, Any]] = {}
    for when, kind, label, n in rows:
        if kind == "lead_form":
            lead_forms += int(n)
            continue
        by_sentiment[str(label)] = by_sentiment.get(str(label), 0) + int(n)
        key = as_day(when).isoformat()
        entry = series.setdefault(key, {"day": key})
        entry[str(label)] = entry.get(str(label), 0) + int(n)
    return {
        "available": True,
        "total": sum(by_sentiment.values()),
        "by_sentiment": by_sentiment,
        "lead_forms": lead_forms,
        "series": list(series.values()),
    }


def mention_context(session: Session, mention_id: int) -> dict[str, Any] | None:
    """What a reply to a listening mention needs: its network, post id, thread and records."""
    if SocialMention is None:
        return None
    mention = session.get(SocialMention, mention_id)
    if mention is None:
        return None
    return {
        "network": mention.network,
        "account_id": mention.account_id,
        "external_id": mention.external_id,
        "kind": mention.kind,
        "conversation_id": mention.conversation_id or mention.external_id,
        "author_user_id": mention.author_user_id,
        "author_handle": mention.author_handle,
        "contact_id": mention.contact_id,
        "lead_id": mention.lead_id,
        "ticket_id": mention.ticket_id,
    }


def mention_id_of(session: Session, network: str, external_id: str) -> int | None:
    """The stored mention that is this post of the network, if listening saw it."""
    if SocialMention is None:
        return None
    found = session.scalars(
        select(SocialMention.id).where(
            SocialMention.network == network, SocialMention.external_id == external_id
        )
    ).first()
    return int(found) if found is not None else None


def _inbound(m: Any) -> dict[str, Any]:
    return {
        "direction": "inbound",
        "mention_id": m.id,
        "kind": m.kind,
        "account_id": m.account_id,
        "author_handle": m.author_handle,
        "text": m.text,
        "external_id": m.external_id,
        "url": m.url,
        "at": m.posted_at,
    }


def inbound_thread(session: Session, network: str, conversation_id: str) -> list[dict[str, Any]]:
    """Inbound posts and DMs of one conversation, oldest first."""
    if SocialMention is None:
        return []
    rows = session.scalars(
        select(SocialMention)
        .where(SocialMention.network == network, SocialMention.conversation_id == conversation_id)
        .order_by(SocialMention.posted_at)
        .limit(200)
    )
    return [_inbound(m) for m in rows]


def ticket_inbound(
    session: Session, ticket_id: int
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The mentions and DMs that opened or joined a Ticket, with the rest of their threads
    (oldest first), and those conversations as (network, conversation id)."""
    if SocialMention is None:
        return [], []
    own = list(
        session.scalars(
            select(SocialMention)
            .where(SocialMention.ticket_id == ticket_id)
            .order_by(SocialMention.posted_at)
            .limit(200)
        )
    )
    conversations = sorted({(m.network, m.conversation_id or m.external_id) for m in own})
    items = {m.id: _inbound(m) for m in own}
    for network, conversation in conversations:
        for item in inbound_thread(session, network, conversation):
            items.setdefault(item["mention_id"], item)
    return sorted(items.values(), key=lambda item: item["at"]), conversations
