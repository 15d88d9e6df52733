"""The tenant's enrichment settings, read from ``Tenant.policy["enrichment"]``. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

POLICY_KEY = "enrichment"


@dataclass(frozen=True, slots=True)
class EnrichmentPolicy:
    auto_link_threshold: float = 0.9
    suggest_threshold: float = 0.5
    # GDPR: without the Contact's enrichment consent, links are made but no posts fetched.
    restrict_without_consent: bool = True

    def may_fetch_posts(self, contact_consent: bool) -> bool:
        return contact_consent or not self.restrict_without_consent

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_from(tenant_policy: Mapping[str, Any] | None) -> EnrichmentPolicy:
    """The stored settings, defaults for anything missing or malformed."""
    raw = (tenant_policy or {}).get(POLICY_KEY)
    if not isinstance(raw, Mapping):
        return EnrichmentPolicy()
    default = EnrichmentPolicy()
    auto = _unit(raw.get("auto_link_threshold"), default.auto_link_threshold)
    suggest = _unit(raw.get("suggest_threshold"), default.suggest_threshold)
    if suggest > auto:
        suggest, auto = default.suggest_threshold, default.auto_link_threshold
    restrict = raw.get("restrict_without_consent")
    return EnrichmentPolicy(
        auto_link_threshold=auto,
        suggest_threshold=suggest,
        restrict_without_consent=restrict if isinstance(restrict, bool) else True,
    )


def _unit(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if 0.0 <= value <= 1.0 else default
