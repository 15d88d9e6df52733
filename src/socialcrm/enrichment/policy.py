"""The tenant's enrichment settings, read from ``Tenant.policy["enrichment"]``. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

POLICY_KEY = "enrichment"

# The product's promise: a profile is linked without a person only when the match is
# near-certain (≥ 0.9); below that, from 0.5, it is suggested for a person to decide.
AUTO_LINK_MIN = 0.9
SUGGEST_MIN = 0.5


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


def threshold_errors(auto_link: float, suggest: float) -> dict[str, str]:
    """What is wrong with a pair of thresholds, per field (empty: nothing)."""
    errors = {}
    if not AUTO_LINK_MIN <= auto_link <= 1.0:
        errors["auto_link_threshold"] = (
            f"must be between {AUTO_LINK_MIN} and 1: profiles are linked without a person "
            "only when the match is near-certain"
        )
    if not SUGGEST_MIN <= suggest < auto_link:
        errors["suggest_threshold"] = (
            f"must be at least {SUGGEST_MIN} and below auto_link_threshold ({auto_link}): "
            "weaker matches are not worth a person's time, stronger ones are linked"
        )
    return errors


def policy_from(tenant_policy: Mapping[str, Any] | None) -> EnrichmentPolicy:
    """The stored settings, defaults for anything missing, malformed or out of bounds (a
    threshold stored before the bounds existed)."""
    raw = (tenant_policy or {}).get(POLICY_KEY)
    if not isinstance(raw, Mapping):
        return EnrichmentPolicy()
    default = EnrichmentPolicy()
    auto = _unit(raw.get("auto_link_threshold"), default.auto_link_threshold)
    suggest = _unit(raw.get("suggest_threshold"), default.suggest_threshold)
    if threshold_errors(auto, suggest):
        auto, suggest = default.auto_link_threshold, default.suggest_threshold
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
