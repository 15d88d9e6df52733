"""The support terms a customer gets, read from the session's tenant: the customer's tier (the
higher of a Contact's own and its Account's), the queue, priority and first-response due time
of a Ticket opened for that tier, and where overdue Tickets move.

The one place a first-response deadline is derived: every Ticket that starts a clock (through
the API or from a social mention) gets it from ``first_response_due``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from socialcrm.crm import tiers
from socialcrm.crm.models import Account, Contact, Tier
from socialcrm.tenancy.models import Tenant

_TIER_ORDER = {Tier.STANDARD.value: 0, Tier.GOLD.value: 1, Tier.PLATINUM.value: 2}


def _policy(session: Session) -> dict[str, Any] | None:
    tenant_id = session.info.get("tenant_id")
    tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
    return tenant.policy if tenant is not None else None


def customer_tier(session: Session, contact: Contact) -> str:
    """The Contact's tier, raised to its Account's when that one is higher."""
    tier = str(contact.tier or Tier.STANDARD)
    if contact.account_id is not None:
        account = session.get(Account, contact.account_id)
        if account is not None and _TIER_ORDER.get(str(account.tier), 0) > _TIER_ORDER.get(tier, 0):
            tier = str(account.tier)
    return tier


def support_terms(session: Session, tier: str | None) -> tiers.SupportTerms:
    """The tenant's terms for ``tier`` (None: a guest)."""
    return tiers.support_terms(_policy(session), tier)


def first_response_due(terms: tiers.SupportTerms, opened_at: datetime) -> datetime:
    """When the first response of a Ticket opened at ``opened_at`` under ``terms`` is due."""
    return opened_at + terms.first_response


def escalation_queue(session: Session) -> str | None:
    """Where the tenant moves a Ticket whose first response is overdue; None keeps its queue."""
    return tiers.escalation_queue(_policy(session))
