"""A tenant's listening settings, kept in ``Tenant.policy["listening"]``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from socialcrm.listening.analysis import DEFAULT_LANGUAGES, SUPPORTED_LANGUAGES


class ListeningPolicy(BaseModel):
    """``languages``: the ISO 639-1 codes the tenant's mentions are expected in. Detection
    chooses among them only (fewer candidates, fewer mistakes on short posts); a language a
    network declares for a post is kept even when it is not listed."""

    model_config = ConfigDict(extra="forbid")

    languages: Annotated[list[str], Field(min_length=1, max_length=len(SUPPORTED_LANGUAGES))] = (
        sorted(DEFAULT_LANGUAGES)
    )

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        codes = [c.strip().lower() for c in value]
        unknown = sorted(set(codes) - SUPPORTED_LANGUAGES)
        if unknown:
            raise ValueError(
                f"unknown language code(s) {', '.join(unknown)}: use ISO 639-1 codes such as "
                "en, de, fr"
            )
        return sorted(set(codes))
