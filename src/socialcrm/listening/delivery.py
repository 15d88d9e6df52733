"""Outbound webhooks: each event POSTed to the tenant's subscribers, signed, retried with backoff.

Signature: ``X-SocialCRM-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``
with ``X-SocialCRM-Timestamp`` (receivers reject old timestamps: replay defence) and
``X-SocialCRM-Delivery`` (the delivery id: receivers deduplicate on it, since delivery is
at-least-once). A delivery row is written in the same unit of work as the event, and the queue
gets it only after that commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from socialcrm.core import lease
from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.http import UnsafeURL, allowed_networks, check_url, safe_async_client
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.listening.models import WebhookDelivery, WebhookSubscription
from socialcrm.providers import runtime

log = structlog.get_logger(__name__)

_SUBSCRIPTIONS = "socialcrm.listening.subscriptions"
EVENTS = ("mention.matched", "lead.created", "ticket.created", "ticket.sla_breached")
MAX_ATTEMPTS = 8
BASE_DELAY_S = 30
MAX_DELAY_S = 6 * 3600
RESUME_GRACE = timedelta(minutes=1)
POST_TIMEOUT_S = 10.0  # each request (connect, read, …)
RUN_LIMIT_S = 60.0  # the whole attempt, redirects included


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempt: int, jitter: float = 0.0) -> timedelta:
    """Delay before attempt ``attempt + 1``: 30 s, 60 s, 120 s … capped at 6 h."""
    seconds = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempt - 1))
    return timedelta(seconds=seconds * (1 + jitter))


def emit(session: Session, event: str, key: str, payload: dict[str, Any]) -> int:
    """Record a delivery per subscriber of ``event``; they are sent once this commits."""
    from socialcrm.listening import tasks  # the task module imports the service layer

    subscriptions = session.info.get(_SUBSCRIPTIONS)
    if subscriptions is None:  # read once per unit of work: a batch emits many events
        subscriptions = session.info[_SUBSCRIPTIONS] = session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
        ).all()
    count = 0
    for sub in subscriptions:
        if event not in (sub.events or []) and "*" not in (sub.events or []):
            continue
        row = WebhookDelivery(
            subscription_id=sub.id, event=event, event_key=key[:200], payload=payload
        )
        session.add(row)
        session.flush()
        enqueue_after_commit(session, tasks.deliver_webhook, sub.tenant_id, row.id)
        count += 1
    return count


def check_target(url: str) -> None:
    """Refuse, when a subscription is made, a URL the SSRF guard would refuse at send time."""
    try:
        check_url(url, allowed_networks(get_settings().allow_private_fetch))
    except UnsafeURL as exc:
        raise ValidationFailed(
            f"this webhook URL cannot be used: {exc}", details={"url": url[:300]}
        ) from exc


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST on the provider runtime's pooled SSRF-safe client (receivers are user-named)."""
    allow = tuple(get_settings().allow_private_fetch)
    pooled = runtime.client(
        ("webhooks", allow), lambda: safe_async_client(allow_private=allow, timeout=POST_TIMEOUT_S)
    )
    async with pooled as client:
        response = await client.post(url, content=body, headers=headers)
        return response.status_code


@dataclass(frozen=True, slots=True)
class _Attempt:
    owner: str
    attempts: int  # before this one
    url: str
    secret: str
    event: str
    body: bytes


def _take(db: Database, tenant_id: int, delivery_id: int) -> _Attempt | None:
    """The delivery's lease, if it is pending, due and nobody else is sending it."""
    owner, now = lease.new_owner(), utcnow()
    due = or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now)
    with db.session(tenant_id=tenant_id) as session:
        pending = WebhookDelivery.status == "pending"
        if not lease.take(session, WebhookDelivery, delivery_id, owner, pending, due):
            return None
        row = session.get(WebhookDelivery, delivery_id, populate_existing=True)
        assert row is not None
        sub = session.get(WebhookSubscription, row.subscription_id)
        if sub is None or not sub.active:
            removed = {"status": "failed", "last_error": "subscription removed"}
            lease.release(session, WebhookDelivery, delivery_id, owner, **removed)
            return None
        body = json.dumps(
            {"id": row.id, "event": row.event, "data": row.payload}, separators=(",", ":")
        ).encode()
        return _Attempt(owner, row.attempts, sub.url, sub.secret, row.event, body)


def deliver(db: Database, tenant_id: int, delivery_id: int) -> datetime | None:
    """One attempt, under the delivery's lease (a worker killed mid-POST leaves the lease to
    run out, and the resume scan sends again: receivers deduplicate on the delivery id).
    Returns when to try again, or None when delivered, failed for good, gone or not ours."""
    attempt = _take(db, tenant_id, delivery_id)
    if attempt is None:
        return None
    timestamp = int(utcnow().timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-SocialCRM-Event": attempt.event,
        "X-SocialCRM-Delivery": str(delivery_id),
        "X-SocialCRM-Timestamp": str(timestamp),
        "X-SocialCRM-Signature": sign(attempt.secret, timestamp, attempt.body),
    }
    error, refused = "", False
    try:
        status = runtime.run(_post(attempt.url, attempt.body, headers), timeout=RUN_LIMIT_S)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except UnsafeURL as exc:  # retrying cannot help: the address is not one we may call
        error, refused = f"refused by the SSRF guard: {exc}", True
    except (httpx.HTTPError, OSError) as exc:
        error = type(exc).__name__
    attempts = attempt.attempts + 1
    outcome: dict[str, Any] = {"attempts": attempts, "last_error": error[:300]}
    retry_at = None
    if not error:
        outcome |= {"status": "delivered", "delivered_at": utcnow()}
    elif refused or attempts >= MAX_ATTEMPTS:
        outcome["status"] = "failed"
        log.warning("webhook_failed", delivery_id=delivery_id, attempts=attempts)
    else:
        retry_at = utcnow() + backoff(attempts, random.uniform(0, 0.1))
        outcome["next_attempt_at"] = retry_at
    with db.session(tenant_id=tenant_id) as session:
        if not lease.release(session, WebhookDelivery, delivery_id, attempt.owner, **outcome):
            log.warning("webhook_outcome_after_lease_lost", delivery_id=delivery_id)
            return None
    return retry_at


def deliveries_to_resume(
    db: Database, now: datetime, *, held: bool = False, limit: int = 1000
) -> list[tuple[int, int, datetime | None]]:
    """(tenant_id, delivery_id, when) of pending deliveries nobody is sending: their task was
    lost (a worker killed mid-POST, a queue that lost it). Those attempted or due more than
    ``RESUME_GRACE`` ago, so a task just queued is not doubled. ``held``: also those whose
    lease is live, due when it runs out (what a starting worker schedules)."""
    due = func.coalesce(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
    stale = and_(lease.free(WebhookDelivery, now), due <= now - RESUME_GRACE)
    with db.session(system=True) as session:
        rows = session.execute(
            select(WebhookDelivery.tenant_id, WebhookDelivery.id, WebhookDelivery.lease_until)
            .where(
                WebhookDelivery.status == "pending",
                or_(stale, WebhookDelivery.lease_until.is_not(None)) if held else stale,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        return [(int(t), int(i), lease.when_free(until, now)) for t, i, until in rows]
