"""A tenant's email-enrichment settings (its policy): the phone region and type, whether
Contacts are created from mail, whether mail is mined at all; read by intake and by decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.principal import Principal, Role
from socialcrm.tenancy.models import Tenant

POLICY_KEY = "email_enrichment"


@dataclass(frozen=True, slots=True)
class EmailSettings:
    default_region: str = "US"
    default_phone_type: str = "business"
    auto_create_contacts: bool = False
    # Creatio's "Enable Email Mining": off, mail is still taken in and stored, but no
    # signature is read and nothing is suggested (nor Contacts created) from it.
    mining_enabled: bool = True


def get_settings(session: Session, tenant_id: int) -> EmailSettings:
    tenant = session.get(Tenant, tenant_id)
    stored = (tenant.policy or {}).get(POLICY_KEY, {}) if tenant else {}
    return EmailSettings(
        default_region=str(stored.get("default_region", "US")),
        default_phone_type=str(stored.get("default_phone_type", "business")),
        auto_create_contacts=bool(stored.get("auto_create_contacts", False)),
        mining_enabled=bool(stored.get("mining_enabled", True)),
    )


def require_mining(session: Session, tenant_id: int) -> None:
    if not get_settings(session, tenant_id).mining_enabled:
        raise Conflict(
            "email enrichment is turned off for this tenant",
            details={"hint": "an admin turns it on: PUT /api/email-settings {mining_enabled}"},
        )


def update_settings(session: Session, tenant_id: int, changes: dict[str, Any]) -> EmailSettings:
    region = changes.get("default_region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(
            f"unknown phone region {region!r} (use ISO 3166 codes like DE)",
            details={"default_region": region},
        )
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    current = dict((tenant.policy or {}).get(POLICY_KEY, {}))
    current.update({k: v for k, v in changes.items() if v is not None})
    tenant.policy = {**(tenant.policy or {}), POLICY_KEY: current}
    session.flush()
    return get_settings(session, tenant_id)


def change_settings(
    session: Session, principal: Principal, changes: dict[str, Any]
) -> EmailSettings:
    """An admin's change of the email settings (the fields given), audit-logged."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the email settings")
    settings = update_settings(session, principal.tenant_id, changes)
    audit.record(
        session,
        actor=principal.actor,
        action="email_settings.update",
        target_type="tenant",
        target_id=principal.tenant_id,
        details={k: v for k, v in changes.items() if v is not None},
    )
    return settings
