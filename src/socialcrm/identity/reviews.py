"""The review queue: questions a person answers (merge or reject), asked once each."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from socialcrm.core.errors import ValidationFailed
from socialcrm.core.numbers import parse_cursor
from socialcrm.identity.models import IdentityProfile, IdentityReview, ReviewKind, ReviewStatus

MAX_PAGE = 200


def _dedupe_key(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()


def open_review(
    session: Session,
    tenant_id: int,
    *,
    kind: ReviewKind,
    reason: str,
    network: str,
    handle: str,
    user_id: str | None,
    confidence: float = 0.0,
    signals: dict[str, Any] | None = None,
    candidate_contact_id: int | None = None,
    source_contact_id: int | None = None,
    lead_id: int | None = None,
) -> IdentityReview:
    """Ask a question once: the same question again bumps ``occurrences`` (a UNIQUE key, so
    concurrent requests cannot ask twice). Returns the row, whatever its status."""
    key = _dedupe_key(
        kind, network, user_id, handle, candidate_contact_id, source_contact_id, lead_id
    )
    existing = _by_key(session, tenant_id, key)
    if existing is None:
        review = IdentityReview(
            tenant_id=tenant_id,
            kind=kind,
            reason=reason[:400],
            network=network,
            handle=handle[:320],
            user_id=user_id,
            confidence=round(confidence, 4),
            signals=signals or {},
            candidate_contact_id=candidate_contact_id,
            source_contact_id=source_contact_id,
            lead_id=lead_id,
            dedupe_key=key,
        )
        try:
            with session.begin_nested():
                session.add(review)
                session.flush()
            return review
        except sa_exc.IntegrityError:
            existing = _by_key(session, tenant_id, key)
            if existing is None:
                raise
    if existing.status == ReviewStatus.PENDING:
        session.execute(
            update(IdentityReview)
            .where(IdentityReview.id == existing.id, IdentityReview.tenant_id == tenant_id)
            .values(occurrences=IdentityReview.occurrences + 1)
            .execution_options(synchronize_session=False)
        )
        session.refresh(existing)
    return existing


def _by_key(session: Session, tenant_id: int, key: str) -> IdentityReview | None:
    return session.scalars(
        select(IdentityReview).where(
            IdentityReview.tenant_id == tenant_id, IdentityReview.dedupe_key == key
        )
    ).first()


def open_conflict(
    session: Session, tenant_id: int, profile: IdentityProfile, claimed_by: int
) -> IdentityReview:
    """Two Contacts claim one account: a person decides whether they are one customer."""
    return open_review(
        session,
        tenant_id,
        kind=ReviewKind.CONFLICT,
        reason=f"account already linked to contact {profile.contact_id}",
        network=profile.network,
        handle=profile.handle,
        user_id=profile.user_id,
        confidence=0.5,
        signals={"profile_id": profile.id},
        candidate_contact_id=profile.contact_id,
        source_contact_id=claimed_by,
    )


def list_reviews(
    session: Session, *, status: ReviewStatus | None, limit: int, cursor: str | None
) -> tuple[list[IdentityReview], str | None]:
    """Oldest first (a queue), keyset-paginated on the id."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}")
    stmt = select(IdentityReview).order_by(IdentityReview.id).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(IdentityReview.status == status)
    if (after := parse_cursor(cursor)) is not None:
        stmt = stmt.where(IdentityReview.id > after)
    rows = list(session.scalars(stmt))
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor
