"""API shapes of identity resolution and the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from socialcrm.core.db import MAX_ID
from socialcrm.identity.models import ReviewKind, ReviewStatus

MAX_BATCH = 1000

HandleText = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Channel = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
UserId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150, pattern=r"^\S+$")
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class ResolveIn(BaseModel):
    """One inbound sender, as a channel knows it."""

    model_config = ConfigDict(extra="forbid")

    handle: HandleText
    channel: Channel
    user_id: UserId | None = None
    message: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    account_created_at: AwareDatetime | None = None
    email: EmailStr | None = None
    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    create_lead: bool = False


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: Annotated[list[ResolveIn], Field(min_length=1, max_length=MAX_BATCH)]


class Match(BaseModel):
    method: Literal["user_id", "handle", "email", "none"]
    signals: dict[str, Any] = {}


class Preferences(BaseModel):
    preferred_channel: str | None
    language: str | None
    marketing_consent: bool
    enrichment_consent: bool


class ProfileData(BaseModel):
    name: str
    tier: str
    last_interaction: datetime | None
    preferences: Preferences
    profile_updated_at: datetime | None
    # Changed within the tenant's ``recently_updated_hours``: an agent should verify it.
    recently_updated: bool


class LinkedProfile(BaseModel):
    """One account of the customer on one network (``user_id``: NULL while only the handle
    is known)."""

    user_id: str | None
    handle: str
    url: str


class ResolveOut(BaseModel):
    resolved: bool
    customer_id: int | None = None
    confidence: float
    review_required: bool
    reason: str
    match: Match
    profile_data: ProfileData | None = None
    social_graph: dict[str, list[LinkedProfile]] = {}  # network -> every linked profile
    lead_id: int | None = None
    review_id: int | None = None
    cached: bool = False


class BatchItemError(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class BatchItemOut(BaseModel):
    index: int
    result: ResolveOut | None = None
    error: BatchItemError | None = None


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: ReviewKind
    status: ReviewStatus
    reason: str
    network: str
    handle: str
    user_id: str | None
    confidence: float
    signals: dict[str, Any]
    candidate_contact_id: int | None
    source_contact_id: int | None
    lead_id: int | None
    occurrences: int
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None = None


MergeableField = Literal["name", "company", "title", "website", "location", "tier", "owner_id"]


class MergeIn(BaseModel):
    """``contact_id``: the surviving Contact when the review names none (or to override it);
    ``keep``: fields the source Contact's value wins for (else the survivor keeps its own)."""

    model_config = ConfigDict(extra="forbid")

    contact_id: Id | None = None
    keep: Annotated[list[MergeableField], Field(max_length=10)] = []


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=500)] = ""


class MergeOut(BaseModel):
    review: ReviewOut
    contact_id: int
    moved: dict[str, int]
