"""The tenant's support terms per customer tier as settings: queue, priority and first-response
time of each tier, and the queue overdue Tickets move to. Stored in ``Tenant.policy["support"]``
in the shape ``crm.tiers`` reads; new Tickets follow a change, open ones keep their clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.principal import Principal
from socialcrm.crm import tiers
from socialcrm.crm.models import Priority
from socialcrm.tenancy.service import own_tenant

TIERS: Final = ("platinum", "gold", "standard", tiers.GUEST)
TierName = Literal["platinum", "gold", "standard", "guest"]
MAX_FIRST_RESPONSE_MINUTES: Final = 30 * 24 * 60
Queue = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][\w .-]*$"
    ),
]


class TierTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: Queue
    priority: Priority
    first_response_minutes: Annotated[int, Field(ge=1, le=MAX_FIRST_RESPONSE_MINUTES)]


class SupportPolicy(BaseModel):
    """``tiers``: the terms of each tier given (a tier left out keeps its terms);
    ``escalation_queue``: where a Ticket moves when its first response is overdue (null: it
    stays in its queue)."""

    model_config = ConfigDict(extra="forbid")

    tiers: dict[TierName, TierTerms] = {}
    escalation_queue: Queue | None = None


def support_policy(policy: Mapping[str, Any] | None) -> SupportPolicy:
    """The terms in force for every tier (the defaults where the tenant set none)."""
    terms = {tier: tiers.support_terms(policy, tier) for tier in TIERS}
    return SupportPolicy(
        tiers={
            tier: TierTerms(
                queue=t.queue,
                priority=t.priority,
                first_response_minutes=int(t.first_response.total_seconds() // 60),
            )
            for tier, t in terms.items()
        },
        escalation_queue=tiers.escalation_queue(policy),
    )


def set_support_policy(
    session: Session, principal: Principal, change: SupportPolicy
) -> SupportPolicy:
    """An admin's change, audit-logged; it applies to Tickets opened from now on."""
    tenant = own_tenant(session, principal, "change the support terms")
    merged = {**support_policy(tenant.policy).tiers, **change.tiers}
    stored: dict[str, Any] = {
        "queues": {tier: t.queue for tier, t in merged.items()},
        "priorities": {tier: t.priority.value for tier, t in merged.items()},
        "first_response_minutes": {tier: t.first_response_minutes for tier, t in merged.items()},
    }
    if change.escalation_queue:
        stored["escalation_queue"] = change.escalation_queue
    tenant.policy = {**(tenant.policy or {}), "support": stored}
    after = support_policy(tenant.policy)
    audit.record(
        session,
        actor=principal.actor,
        action="support.settings.update",
        target_type="tenant",
        target_id=tenant.id,
        details=after.model_dump(mode="json"),
    )
    session.flush()
    return after
