"""API shapes of publishing and campaign attribution."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from socialcrm.core.db import MAX_ID
from socialcrm.publishing.clock import Occurrence

AccountId = int


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: int = Field(ge=1, le=MAX_ID)
    text: str | None = Field(default=None, max_length=70_000)


class PostIn(BaseModel):
    """``action``: ``draft`` keeps it, ``schedule`` publishes at ``local_time`` in
    ``time_zone`` (an IANA name), ``now`` publishes at once."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=70_000)
    targets: list[TargetIn] = Field(min_length=1, max_length=50)
    action: Literal["draft", "schedule", "now"] = "draft"
    local_time: datetime | None = None
    time_zone: str = Field(default="UTC", max_length=64)
    occurrence: Occurrence = Occurrence.EARLIER
    campaign_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    track_links: bool = True
    utm_campaign: str = Field(default="", max_length=120)
    media_urls: list[str] = Field(default_factory=list, max_length=10)


class TargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int = Field(validation_alias="social_account_id")
    network: str
    text: str
    variant_text: str | None
    status: str
    due_at: datetime | None
    attempts: int
    external_id: str
    url: str
    error: str
    published_at: datetime | None
    claimed_at: datetime | None  # when the last attempt started
    lease_until: datetime | None  # a worker holds it until then
    stuck: bool = False  # publishing with nobody on it: its worker died
    next_steps: list[str] = Field(
        default_factory=list,
        description="What a person can do now: reconnect (the account), retry, cancel.",
    )
    likes: int
    comments: int
    shares: int
    impressions: int


class PostOut(BaseModel):
    id: int
    text: str
    campaign_id: int | None
    time_zone: str
    local_time: str
    publish_at: datetime | None
    track_links: bool
    approved_by: str
    review_note: str
    statuses: dict[str, int]
    targets: list[TargetOut]
    created_at: datetime


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str = Field(default="", max_length=500)


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_required: bool


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=70_000)
    networks: list[str] = Field(default_factory=lambda: ["x", "bluesky", "mastodon"], max_length=20)


class CountOut(BaseModel):
    network: str
    used: int
    limit: int
    unit: str
    fits: bool


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, le=1e11)
    currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$")


class BudgetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    campaign_id: int
    amount: float
    currency: str
