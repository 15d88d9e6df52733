"""API shapes of listening."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from socialcrm.core.db import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2,3}$")
]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]
Action = Literal["lead", "ticket", "notify", "campaign"]
SentimentLabel = Literal["positive", "neutral", "negative"]


class Geo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=20_000)


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, StringConstraints(max_length=4000)] = ""
    networks: list[Annotated[str, StringConstraints(max_length=20)]] = Field(
        default_factory=list, max_length=20
    )
    account_ids: list[Id] = Field(default_factory=list, max_length=100)
    brand_account_ids: list[Id] = Field(default_factory=list, max_length=100)
    languages: list[Code] = Field(default_factory=list, max_length=50)
    countries: list[Country] = Field(default_factory=list, max_length=250)
    geo: Geo | None = None
    sentiments: list[SentimentLabel] = Field(default_factory=list, max_length=3)
    support: bool = False
    owner_id: Id | None = None
    campaign_id: Id | None = None
    actions: list[Action] = Field(default_factory=list, max_length=4)

    def values(self) -> dict[str, Any]:
        data = self.model_dump()
        data["geo"] = self.geo.model_dump() if self.geo else None
        data["actions"] = sorted(set(self.actions))
        return data


class RuleIn(RuleFields):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    active: bool = True

    def values(self) -> dict[str, Any]:
        return {**super().values(), "name": self.name, "active": self.active}


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    query: Annotated[str, StringConstraints(max_length=4000)] | None = None
    networks: list[Annotated[str, StringConstraints(max_length=20)]] | None = None
    account_ids: list[Id] | None = None
    brand_account_ids: list[Id] | None = None
    languages: list[Code] | None = None
    countries: list[Country] | None = None
    geo: Geo | None = None
    sentiments: list[SentimentLabel] | None = None
    support: bool | None = None
    owner_id: Id | None = None
    campaign_id: Id | None = None
    actions: list[Action] | None = None
    active: bool | None = None

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True)
        if "geo" in data and self.geo is not None:
            data["geo"] = self.geo.model_dump()
        for name in (
            "name",
            "support",
            "active",
            "networks",
            "account_ids",
            "brand_account_ids",
            "languages",
            "countries",
            "sentiments",
            "actions",
            "query",
        ):
            if name in data and data[name] is None:
                raise ValueError(f"{name} cannot be null")
        return data


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    query: str
    networks: list[str]
    account_ids: list[int]
    brand_account_ids: list[int]
    languages: list[str]
    countries: list[str]
    geo: dict[str, float] | None
    sentiments: list[str]
    support: bool
    owner_id: int | None
    campaign_id: int | None
    actions: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class MentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    network: str
    external_id: str
    kind: str
    account_id: int | None
    conversation_id: str
    in_reply_to_id: str | None
    author_user_id: str
    author_handle: str
    author_name: str
    text: str
    language: str
    sentiment_score: float
    sentiment_label: str
    sentiment_method: str
    lat: float | None
    lon: float | None
    country: str
    url: str
    posted_at: datetime
    ingested_at: datetime
    metrics: dict[str, Any]
    rule_ids: list[int]
    contact_id: int | None
    lead_id: int | None
    ticket_id: int | None
    campaign_id: int | None


class MentionPage(BaseModel):
    items: list[MentionOut]
    next_cursor: str | None


class PreviewOut(BaseModel):
    days: int
    scanned: int
    matched: int
    samples: list[MentionOut]


class TicketResult(BaseModel):
    ticket_id: int
    created: bool


class LeadResult(BaseModel):
    lead_id: int | None
    created: bool


class RoutingRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["round_robin", "language", "country", "keyword"]
    values: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    ] = Field(default_factory=list, max_length=100)
    user_ids: list[Id] = Field(min_length=1, max_length=100)
    position: int = Field(default=0, ge=0, le=10_000)
    active: bool = True

    @model_validator(mode="after")
    def _values_needed(self) -> RoutingRuleIn:
        if self.kind != "round_robin" and not self.values:
            raise ValueError(f"a {self.kind} rule needs values")
        return self


class RoutingRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    values: list[str]
    user_ids: list[int]
    position: int
    active: bool


class InboundWebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style: Literal["x", "meta"]
    network: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=20)
    ]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=500)] | None = None
    account_id: Id | None = None
    campaign_id: Id | None = None


class InboundWebhookOut(BaseModel):
    id: int
    style: str
    network: str
    url: str
    account_id: int | None
    campaign_id: int | None
    active: bool
    secret: str | None = None  # only in the answer that created it
    verify_token: str | None = None


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    events: list[
        Literal["mention.matched", "lead.created", "ticket.created", "ticket.sla_breached", "*"]
    ] = Field(min_length=1, max_length=10)


class SubscriptionOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    secret: str | None = None
