"""Outbound webhooks: each event POSTed to the tenant's subscribers, signed, retried with backoff.

Signature: ``X-SocialCRM-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``
with ``X-SocialCRM-Timestamp`` (receivers reject old timestamps: replay defence) and
``X-SocialCRM-Delivery`` (the delivery id: receivers deduplicate on it, since delivery is
at-least-once). A delivery row is written in the same unit of work as the event, and the queue
gets it only after that commits.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.http import UnsafeURL, allowed_networks, check_url, safe_async_client
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.settings import get_settings
from socialcrm.listening.models import WebhookDelivery, WebhookSubscription

log = structlog.get_logger(__name__)

_SUBSCRIPTIONS = "socialcrm.listening.subscriptions"
EVENTS = ("mention.matched", "lead.created", "ticket.created", "ticket.sla_breached")
MAX_ATTEMPTS = 8
BASE_DELAY_S = 30
MAX_DELAY_S = 6 * 3600


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
    settings = get_settings()
    async with safe_async_client(
        allow_private=settings.allow_private_fetch, timeout=10.0
    ) as client:
        response = await client.post(url, content=body, headers=headers)
        return response.status_code


def deliver(db: Database, tenant_id: int, delivery_id: int) -> datetime | None:
    """One attempt. Returns when to try again, or None when delivered, failed for good or gone."""
    with db.session(tenant_id=tenant_id) as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or row.status != "pending":
            return None
        sub = session.get(WebhookSubscription, row.subscription_id)
        if sub is None or not sub.active:
            row.status, row.last_error = "failed", "subscription removed"
            return None
        url, secret = sub.url, sub.secret
        body = json.dumps(
            {"id": row.id, "event": row.event, "data": row.payload}, separators=(",", ":")
        ).encode()
        event = row.event
    timestamp = int(utcnow().timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-SocialCRM-Event": event,
        "X-SocialCRM-Delivery": str(delivery_id),
        "X-SocialCRM-Timestamp": str(timestamp),
        "X-SocialCRM-Signature": sign(secret, timestamp, body),
    }
    error, refused = "", False
    try:
        status = asyncio.run(_post(url, body, headers))
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except UnsafeURL as exc:  # retrying cannot help: the address is not one we may call
        error, refused = f"refused by the SSRF guard: {exc}", True
    except (httpx.HTTPError, OSError) as exc:
        error = type(exc).__name__
    with db.session(tenant_id=tenant_id) as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return None
        row.attempts += 1
        if not error:
            row.status, row.delivered_at, row.last_error = "delivered", utcnow(), ""
            return None
        row.last_error = error[:300]
        if refused or row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            log.warning("webhook_failed", delivery_id=delivery_id, attempts=row.attempts)
            return None
        row.next_attempt_at = utcnow() + backoff(row.attempts, random.uniform(0, 0.1))
        return row.next_attempt_at
