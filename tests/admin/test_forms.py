"""Errors in plain words beside their fields (pure: Pydantic errors in, field messages out)."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from socialcrm.core.errors import Conflict, ValidationFailed
from socialcrm.core.web.forms import FORM, app_error_fields, field_errors


class Inner(BaseModel):
    queue: Annotated[str, StringConstraints(min_length=1, max_length=5)]


class Shape(BaseModel):
    ratio: Annotated[float, Field(ge=0, le=1)] = 0.5
    count: Annotated[int, Field(ge=1, le=65535)] = 1
    words: list[Annotated[str, StringConstraints(min_length=2)]] = []
    choice: Literal["low", "high"] = "low"
    tiers: dict[str, Inner] = {}


def errors(**values: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate(values)
    return field_errors(caught.value)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"ratio": "1.5"}, {"ratio": "must be 1 or less"}),
        ({"ratio": "-0.1"}, {"ratio": "must be 0 or more"}),
        ({"ratio": "lots"}, {"ratio": "enter a number, such as 0.8"}),
        ({"count": "2.5"}, {"count": "enter a whole number"}),
        ({"count": "70000"}, {"count": "must be 65535 or less"}),
        ({"words": ["ok", "x"]}, {"words": "entry 2: must have at least 2 characters"}),
        ({"choice": "mid"}, {"choice": "choose one of low or high"}),
        ({"tiers": {"gold": {"queue": ""}}}, {"tiers.gold.queue": "this is required"}),
        ({"tiers": {"gold": {}}}, {"tiers.gold.queue": "this is required"}),
        (
            {"tiers": {"gold": {"queue": "toolong"}}},
            {"tiers.gold.queue": "must have at most 5 characters"},
        ),
    ],
)
def test_pydantic_errors_in_plain_words_by_field(
    values: dict[str, object], expected: dict[str, str]
) -> None:
    found = errors(**values)
    assert found == expected
    assert not any(
        "Input should" in message or "Value error" in message for message in found.values()
    )


def test_a_validators_own_message_stays_without_its_prefix() -> None:
    from socialcrm.tenancy.policy import TenantPolicyChange

    with pytest.raises(ValidationError) as caught:
        TenantPolicyChange.model_validate({"job_rate_limit": "often", "ef_ceiling": "nan"})
    assert field_errors(caught.value) == {
        "job_rate_limit": "write a rate as N/second, N/minute, N/hour or N/day",
        "ef_ceiling": "enter an ordinary number",
    }


def test_a_service_refusal_lands_beside_the_field_it_names_or_above_the_form() -> None:
    named = ValidationFailed("unknown region", details={"default_region": "XX"})
    assert app_error_fields(named, ["default_region", "x"]) == {"default_region": "unknown region"}
    unnamed = Conflict("the tenant must keep an admin", details={"hint": "x"})
    assert app_error_fields(unnamed, ["role"]) == {FORM: "the tenant must keep an admin"}
