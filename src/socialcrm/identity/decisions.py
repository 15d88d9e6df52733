"""A person's decisions in the review queue: merge (the identity joins a Contact) or reject."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    Conflict,
    NotFound,
    ValidationFailed,
)
from socialcrm.crm.models import Contact
from socialcrm.identity import graph
from socialcrm.identity.merge import merge_contacts, merge_lead_into_contact
from socialcrm.identity.models import (
    IdentityReview,
    ReviewKind,
    ReviewStatus,
)
from socialcrm.identity.normalise import (
    ImpossibleHandle,
)

log = structlog.get_logger(__name__)


# Review kinds that report something (a rate limit hit, a handle the graph cannot hold): a
# person dismisses them; there is no identity to merge.
REPORTS = frozenset({ReviewKind.RATE_LIMITED, ReviewKind.NOT_LINKED})
# Review kinds whose candidate is the customer being imitated (a look-alike handle) or whose
# handle another account took over: a merge names its Contact; the candidate is never assumed.
NAME_THE_CONTACT = frozenset({ReviewKind.CONFUSABLE, ReviewKind.HANDLE_REUSED})


# --- reviews ---------------------------------------------------------------------------------


def get_review(session: Session, review_id: int) -> IdentityReview:
    review = session.get(IdentityReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id} not found")
    return review


def merge_review(
    session: Session,
    tenant_id: int,
    review_id: int,
    *,
    contact_id: int | None,
    keep: list[str],
    actor: str,
) -> tuple[IdentityReview, int, dict[str, int]]:
    """Accept a review: the identity (and its guest Lead, or the other Contact) joins the
    surviving Contact. Audit-logged with what moved."""
    review = get_review(session, review_id)
    if review.status != ReviewStatus.PENDING:
        raise Conflict(f"review {review_id} is already {review.status}")
    if review.kind in REPORTS:
        raise Conflict(f"a {review.kind} report has nothing to merge: reject it to dismiss")
    if contact_id is None and review.kind in NAME_THE_CONTACT:
        raise ValidationFailed(
            f"a {review.kind} review names no contact for you: choose the contact to merge"
            ' into ({"contact_id": …}); the customer it looks like is not assumed'
        )
    target = contact_id or review.candidate_contact_id
    if target is None:
        raise ValidationFailed('name the contact to merge into: {"contact_id": …}')
    if session.get(Contact, target) is None:
        raise NotFound(f"contact {target} not found")
    moved: dict[str, int] = {}
    details: dict[str, Any] = {"review_kind": str(review.kind), "target_contact_id": target}
    pair = {review.candidate_contact_id, review.source_contact_id} - {None, target}
    if review.kind == ReviewKind.CONFLICT and pair:
        # Two Contacts are one customer: the one not chosen as survivor is folded in.
        if len(pair) > 1:
            raise ValidationFailed("merge into one of the two contacts of this review")
        folded = pair.pop()
        assert folded is not None
        snapshot, moved = merge_contacts(
            session, tenant_id, source_id=folded, target_id=target, keep=keep
        )
        details["source_contact"] = snapshot
    else:
        if review.lead_id is not None:
            moved = merge_lead_into_contact(
                session, tenant_id, lead_id=review.lead_id, contact_id=target
            )
        if review.handle:
            try:
                graph.record_identity(
                    session,
                    target,
                    review.network,
                    review.user_id,
                    review.handle,
                    "review",
                    relink=True,
                )
                moved["identity_profiles"] = moved.get("identity_profiles", 0) or 1
            except ImpossibleHandle:
                pass  # a look-alike no network allows: nothing to link, the decision is kept
    review.status = ReviewStatus.MERGED
    review.decided_at = utcnow()
    review.decided_by = actor
    review.candidate_contact_id = target
    details["moved"] = moved
    audit.record(
        session,
        actor=actor,
        action="identity.review.merge",
        target_type="identity_review",
        target_id=review.id,
        details=details,
    )
    session.flush()
    return review, target, moved


def reject_review(session: Session, review_id: int, *, note: str, actor: str) -> IdentityReview:
    """Not the same person: the question is closed and not asked again."""
    review = get_review(session, review_id)
    if review.status != ReviewStatus.PENDING:
        raise Conflict(f"review {review_id} is already {review.status}")
    review.status = ReviewStatus.REJECTED
    review.decided_at = utcnow()
    review.decided_by = actor
    audit.record(
        session,
        actor=actor,
        action="identity.review.reject",
        target_type="identity_review",
        target_id=review.id,
        details={
            "note": note,
            "kind": str(review.kind),
            "candidate_contact_id": review.candidate_contact_id,
        },
    )
    session.flush()
    return review
