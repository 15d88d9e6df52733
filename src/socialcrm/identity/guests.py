"""Unknown senders: the one guest Lead per sender (claimed under a UNIQUE key) and its review."""

from __future__ import annotations

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.crm import leads
from socialcrm.identity import graph, reviews
from socialcrm.identity.candidates import Candidate, unresolved
from socialcrm.identity.models import (
    GuestLead,
    ReviewKind,
)
from socialcrm.identity.normalise import (
    NormalisedHandle,
)
from socialcrm.identity.schemas import (
    Match,
    ResolveIn,
    ResolveOut,
)

log = structlog.get_logger(__name__)

# --- guests ----------------------------------------------------------------------------------


def guest(
    session: Session,
    tenant_id: int,
    n: NormalisedHandle,
    uid: str | None,
    req: ResolveIn,
    weak: Candidate | None,
) -> ResolveOut:
    if not req.create_lead:
        return unresolved("no_match", 0.0)
    lead_id, created = ensure_guest_lead(session, tenant_id, n, uid, req)
    review = None
    if created:
        review = reviews.open_review(
            session,
            tenant_id,
            kind=ReviewKind.NEW_LEAD,
            reason="needs_review: new lead from an unknown sender",
            network=n.network.value,
            handle=n.handle,
            user_id=uid,
            lead_id=lead_id,
        )
    return ResolveOut(
        resolved=False,
        confidence=0.0,
        review_required=created,
        reason="lead_created" if created else "known_lead",
        match=Match(method="none", signals={"tags": ["needs_review"]} if created else {}),
        lead_id=lead_id,
        review_id=review.id if review is not None else None,
    )


def ensure_guest_lead(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> tuple[int, bool]:
    """The one Lead of this sender: found by user id (else handle) or email, else created.

    Uniqueness is the database's: the claim rows in ``identity_guest_leads`` carry a UNIQUE
    (tenant, network, subject) key, so of concurrent creators exactly one commits a Lead.
    """
    net = n.network.value
    claims = [(net, f"id:{uid}" if uid else f"handle:{n.handle}")]
    if req.email:
        claims.append(("*", f"email:{str(req.email).lower()}"))
    existing = _claimed_lead(session, tenant_id, claims)
    if existing is not None:
        _add_claims(session, tenant_id, claims, existing)
        return existing, False
    try:
        with session.begin_nested():
            lead = leads.create_lead(
                session,
                name=(req.display_name or f"@{n.handle}")[:200],
                source=f"social:{net}",
                notes=f"#needs_review — first seen on {net} as @{n.handle} ({n.url})",
            )
            for network, subject in claims:
                session.add(
                    GuestLead(
                        tenant_id=tenant_id, network=network, subject=subject, lead_id=lead.id
                    )
                )
            session.flush()
    except sa_exc.IntegrityError:
        existing = _claimed_lead(session, tenant_id, claims)
        if existing is None:
            raise
        _add_claims(session, tenant_id, claims, existing)
        return existing, False
    graph.record_identity(session, None, net, uid, n.handle, "guest", lead_id=lead.id)
    log.info("identity.lead_created", tenant_id=tenant_id, network=net, lead_id=lead.id)
    return lead.id, True


def _claimed_lead(session: Session, tenant_id: int, claims: list[tuple[str, str]]) -> int | None:
    for network, subject in claims:
        lead_id = session.scalar(
            select(GuestLead.lead_id).where(
                GuestLead.tenant_id == tenant_id,
                GuestLead.network == network,
                GuestLead.subject == subject,
            )
        )
        if lead_id is not None:
            return int(lead_id)
    return None


def _add_claims(
    session: Session, tenant_id: int, claims: list[tuple[str, str]], lead_id: int
) -> None:
    """Remember the other ways this sender is known (an email seen later, say)."""
    for network, subject in claims:
        try:
            with session.begin_nested():
                session.add(
                    GuestLead(
                        tenant_id=tenant_id, network=network, subject=subject, lead_id=lead_id
                    )
                )
                session.flush()
        except sa_exc.IntegrityError:
            continue
