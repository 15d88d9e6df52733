"""The operator's controls of one tenant: whether it may act at all, the EF its bulk jobs may
spend per calendar month, and how many jobs it may start in a window.

They live where the jobs API reads them: ``Tenant.active``, ``Tenant.policy["ef_ceiling"]``
(EF per month; absent: no ceiling) and ``Tenant.policy["job_rate_limit"]`` (the notation of
``limits``, e.g. ``30/minute``; absent: ``SOCIALCRM_DISCOVERY_JOB_RATE_LIMIT``).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from socialcrm.core.numbers import is_ascii_number

MAX_EF_CEILING: Final = 1_000_000.0
MAX_JOBS_PER_WINDOW: Final = 100_000


class TenantPolicy(BaseModel):
    """What ``GET /api/admin/tenant-policy`` answers."""

    tenant_id: int
    tenant: str
    active: bool
    ef_ceiling: float | None = Field(description="EF per calendar month; null: no ceiling")
    job_rate_limit: str | None = Field(
        description="job creations per window, e.g. 30/minute; null: the service default"
    )


class TenantPolicyChange(BaseModel):
    """A change of the controls: only the fields given change; ``null`` removes a tenant's own
    ceiling or rate limit."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    ef_ceiling: float | None = Field(default=None, ge=0, le=MAX_EF_CEILING, allow_inf_nan=False)
    job_rate_limit: str | None = Field(
        default=None,
        max_length=60,
        description="limits' notation (30/minute, 500/day); a bare number means per minute",
    )

    @field_validator("job_rate_limit", mode="before")
    @classmethod
    def _per_minute(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value}/minute"
        if isinstance(value, str) and is_ascii_number(value.strip()):
            return f"{value.strip()}/minute"
        return value

    @field_validator("job_rate_limit")
    @classmethod
    def _one_rate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from limits import parse_many

        try:
            rates = parse_many(value)
        except ValueError:
            raise ValueError("write a rate as N/second, N/minute, N/hour or N/day") from None
        if len(rates) != 1:
            raise ValueError("give one rate, e.g. 30/minute")
        if not 1 <= rates[0].amount <= MAX_JOBS_PER_WINDOW:
            raise ValueError(f"a rate allows 1 to {MAX_JOBS_PER_WINDOW} jobs per window")
        return value.strip()

    @field_validator("active")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool | None:
        if value is None:
            raise ValueError("active is true or false")
        return value


def apply_change(
    active: bool, policy: dict[str, Any], change: TenantPolicyChange
) -> tuple[bool, dict[str, Any]]:
    """The flag and the policy after ``change`` (only the fields it sets)."""
    given = change.model_fields_set
    updated = dict(policy)
    for key in ("ef_ceiling", "job_rate_limit"):
        if key in given:
            value = getattr(change, key)
            if value is None:
                updated.pop(key, None)
            else:
                updated[key] = value
    new_active = change.active if "active" in given and change.active is not None else active
    return new_active, updated
