"""Who a sender could be: the graph's evidence (user id, handle, look-alikes, email links,
retired handles, same name elsewhere) as one best ``Candidate`` with its confidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.orm import Session

from socialcrm.identity import graph, lookups
from socialcrm.identity.models import (
    IdentityProfile,
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


# How much one kind of evidence is worth (the tenant's threshold decides what resolves).
CONFIDENCE = {
    "user_id": 1.0,
    "email_link": 0.95,
    "handle": 0.9,
    "request_email": 0.9,
    "ambiguous": 0.5,
    "previous_handle": 0.5,
    "other_network": 0.4,
    "owner_changed": 0.3,
}


@dataclass(slots=True)
class Candidate:
    """The best guess so far: who, how sure, and why."""

    contact_id: int | None
    confidence: float
    method: str
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)
    # The graph's profile this evidence came from (its user id): ``None`` when the evidence is
    # not a profile (an email, another network), which the graph then learns.
    profile: IdentityProfile | lookups.Account | None = None
    force_review: bool = False
    kind: ReviewKind = ReviewKind.LOW_CONFIDENCE
    # The card of ``contact_id`` (``lookups.contact_card``) when it was read with the evidence.
    card: Sequence[Row[Any]] | None = None


def find_candidate(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> Candidate | ResolveOut | None:
    net = n.network.value
    if uid is not None:
        found = lookups.account_with_card(session, tenant_id, net, uid)
        account, card = found if found is not None else (None, None)
        if account is not None and (account.contact_id is not None or account.lead_id is not None):
            previous = None
            if account.handle != n.handle:  # renamed: the model, to keep the old handle
                known = session.get(IdentityProfile, account.id)
                assert known is not None
                previous = graph.rename_profile(session, tenant_id, known, n)
                card = None  # it shows the old handle
            signals: dict[str, Any] = {"user_id": uid}
            if previous is not None:
                signals["previous_handle"] = previous
            if account.contact_id is None:
                return unresolved(
                    "known_lead", 0.0, lead_id=account.lead_id, signals=signals, method="user_id"
                )
            return Candidate(
                account.contact_id,
                CONFIDENCE["user_id"],
                "user_id",
                "user_id_match",
                signals,
                account,
                card=card or None,
            )

    current: list[IdentityProfile] = []
    retired: list[tuple[str, IdentityProfile]] = []
    for alias, profile in lookups.aliases_for_handle(session, tenant_id, net, n.handle):
        if alias.retired_at is None:
            current.append(profile)
        elif profile.contact_id is not None:
            retired.append((alias.handle, profile))
    linked = {p.contact_id for p in current if p.contact_id is not None}
    owned = [p for p in current if p.contact_id is not None and p.user_id not in (None, uid)]
    if uid is not None and owned:
        return _owner_changed(n, uid, owned[0], retired=False)
    if len(linked) == 1:
        profile = next(p for p in current if p.contact_id is not None)
        return Candidate(
            profile.contact_id,
            CONFIDENCE["handle"],
            "handle",
            "handle_match",
            {"handle": n.handle},
            profile,
        )
    if len(linked) > 1:
        return Candidate(
            min(c for c in linked if c is not None),
            CONFIDENCE["ambiguous"],
            "handle",
            "ambiguous_handle",
            {"contacts": sorted(c for c in linked if c is not None)},
        )
    leads = [p for p in current if p.lead_id is not None]
    if leads and (uid is None or leads[0].user_id in (None, uid)):
        return unresolved("known_lead", 0.0, lead_id=leads[0].lead_id, method="handle")

    alikes = lookups.look_alikes(session, tenant_id, net, n.skeletons, n.handle)
    if alikes:
        alias, profile = alikes[0]
        return Candidate(
            profile.contact_id,
            0.0,
            "handle",
            f"confusable_with:{alias.handle}",
            {"confusable_with": alias.handle, "skeleton": n.skeleton},
            force_review=True,
            kind=ReviewKind.CONFUSABLE,
        )

    by_email = _email_candidate(session, tenant_id, n, uid, req)
    if by_email is not None:
        return by_email
    if retired:
        # The account that had this handle has another one now: whoever uses it is not it.
        old, profile = retired[0]
        if uid is not None and profile.user_id not in (None, uid):
            return _owner_changed(n, uid, profile, retired=True)
        return Candidate(
            profile.contact_id,
            CONFIDENCE["previous_handle"],
            "handle",
            "previous_handle",
            {"previous_handle": old, "current_handle": profile.handle},
            profile,
            force_review=True,
            kind=ReviewKind.HANDLE_REUSED,
        )
    elsewhere = lookups.same_name_elsewhere(session, tenant_id, net, n.local)
    if elsewhere:
        alias, profile = elsewhere[0]
        return Candidate(
            profile.contact_id,
            CONFIDENCE["other_network"],
            "handle",
            f"same_handle_on:{alias.network}",
            {"network": alias.network, "handle": alias.handle},
        )
    return None


def _owner_changed(
    n: NormalisedHandle, uid: str, known: IdentityProfile, *, retired: bool
) -> Candidate:
    """A known handle under another user id: a question for a person, never a resolution."""
    signals: dict[str, Any] = {"handle": n.handle, "known_user_id": known.user_id, "user_id": uid}
    if retired:
        signals["known_account_now"] = known.handle
    return Candidate(
        known.contact_id,
        CONFIDENCE["owner_changed"],
        "handle",
        "handle_owner_changed",
        signals,
        force_review=True,
        kind=ReviewKind.HANDLE_REUSED,
    )


def _email_candidate(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, req: ResolveIn
) -> Candidate | None:
    links = lookups.email_links(session, tenant_id, n.network.value, n.handle, uid)
    for link in links:
        contact_id = link.contact_id
        if contact_id is None:  # the Contact may have been created after the mapping
            found = lookups.contacts_with_email(session, tenant_id, link.email)
            contact_id = found[0] if len(found) == 1 else None
        if contact_id is not None:
            return Candidate(
                contact_id,
                CONFIDENCE["email_link"],
                "email",
                "email_match",
                {"email_source": link.source},
            )
    if req.email:
        found = lookups.contacts_with_email(session, tenant_id, str(req.email))
        if len(found) == 1:
            return Candidate(
                found[0],
                CONFIDENCE["request_email"],
                "email",
                "email_match",
                {"email_source": "request"},
            )
        if len(found) > 1:
            return Candidate(
                found[0],
                CONFIDENCE["ambiguous"],
                "email",
                "ambiguous_email",
                {"contacts": found[:10]},
            )
    return None


def unresolved(
    reason: str,
    confidence: float,
    *,
    lead_id: int | None = None,
    signals: dict[str, Any] | None = None,
    method: str = "none",
) -> ResolveOut:
    return ResolveOut(
        resolved=False,
        confidence=confidence,
        review_required=False,
        reason=reason,
        match=Match(method=method, signals=signals or {}),
        lead_id=lead_id,
    )
