"""Who the author of a mention is, as far as the CRM knows: a Contact (with a tier) or nobody.

This is the seam to identity resolution (``socialcrm.identity.resolve.resolve``): it is asked
first; when it cannot answer (rate limited, a channel it does not parse) or does not know the
sender, Contacts' own ``handles`` are looked up. Guest Leads come from identity resolution too,
so one platform user is one Lead whichever channel saw them first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.errors import AppError
from socialcrm.crm import terms
from socialcrm.crm.models import Contact

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KnownAuthor:
    contact_id: int
    tier: str


def _handle_matches(entry: object, network: str, user_id: str, handle: str) -> bool:
    if not isinstance(entry, dict) or str(entry.get("network", "")).lower() != network:
        return False
    known_id = str(entry.get("user_id") or "")
    if known_id and user_id:
        return known_id == user_id
    return str(entry.get("handle", "")).lstrip("@").lower() == handle.lstrip("@").lower()


def lookup_contact(session: Session, network: str, user_id: str, handle: str) -> KnownAuthor | None:
    """A Contact whose handles list this account (by platform user id, else by handle)."""
    handle = handle.lstrip("@").lower()
    if not handle and not user_id:
        return None
    needle = f"{network}:{handle}" if handle else f"{network}:"
    candidates = session.scalars(
        select(Contact).where(Contact.search_text.contains(needle, autoescape=True)).limit(50)
    )
    for contact in candidates:
        if any(_handle_matches(h, network, user_id, handle) for h in contact.handles or []):
            return KnownAuthor(contact.id, terms.customer_tier(session, contact))
    return None


def _identity(
    session: Session,
    network: str,
    user_id: str,
    handle: str,
    *,
    create_lead: bool,
    display_name: str = "",
) -> Any | None:
    """Ask identity resolution (issue 5); None when it cannot answer for this sender."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None or not handle:
        return None
    try:
        from socialcrm.identity import resolve as identity
        from socialcrm.identity.schemas import ResolveIn

        request = ResolveIn(
            handle=handle,
            channel=network,
            user_id=user_id or None,
            create_lead=create_lead,
            display_name=display_name[:200] or None,
        )
        return identity.resolve(session, int(tenant_id), request, actor="listening")
    except (AppError, ValidationError, ValueError) as exc:
        # Rate limited, a handle it cannot parse, a channel it does not know: fall back.
        log.info("identity_unavailable", network=network, error_type=type(exc).__name__)
        return None


def resolve_author(session: Session, network: str, user_id: str, handle: str) -> KnownAuthor | None:
    answer = _identity(session, network, user_id, handle, create_lead=False)
    if answer is not None and answer.resolved and answer.customer_id is not None:
        contact = session.get(Contact, answer.customer_id)
        if contact is not None:
            return KnownAuthor(contact.id, terms.customer_tier(session, contact))
    return lookup_contact(session, network, user_id, handle)


def guest_lead_for(
    session: Session, network: str, user_id: str, handle: str, display_name: str = ""
) -> tuple[int, bool] | None:
    """The guest Lead identity resolution holds (or now creates) for this platform user, so a
    sender seen by several channels is one Lead."""
    answer = _identity(
        session, network, user_id, handle, create_lead=True, display_name=display_name
    )
    if answer is None or answer.resolved or answer.lead_id is None:
        return None
    return int(answer.lead_id), answer.reason == "lead_created"
