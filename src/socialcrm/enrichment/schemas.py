"""API shapes of enrichment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ManualLinkIn(Strict):
    handle_or_url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    provider: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    # Where a person has one profile (Facebook, LinkedIn): replace the Contact's linked one.
    replace: bool = False


class SettingsIn(Strict):
    auto_link_threshold: (
        Annotated[float, Field(ge=0, le=1, description="0.9 to 1: link without a person")] | None
    ) = None
    suggest_threshold: (
        Annotated[float, Field(ge=0, le=1, description="0.5 to below auto_link_threshold: suggest")]
        | None
    ) = None
    restrict_without_consent: bool | None = None


class SettingsOut(BaseModel):
    auto_link_threshold: float
    suggest_threshold: float
    restrict_without_consent: bool


class SnapshotOut(Out):
    display_name: str
    headline: str
    bio: str
    avatar_url: str
    followers: int | None
    links: list[str]
    profile_url: str
    gone: bool
    fetched_at: datetime


class PostOut(Out):
    post_id: str
    text: str
    url: str
    posted_at: datetime | None


class LinkOut(Out):
    id: int
    contact_id: int
    provider: str
    external_user_id: str
    handle: str
    profile_url: str
    status: str
    source: str
    confidence: float
    signals: dict[str, Any]
    use_as_photo: bool
    decided_by: str | None
    decided_at: datetime | None
    stale_since: datetime | None
    created_at: datetime


class LinkWithSnapshot(LinkOut):
    snapshot: SnapshotOut | None = None
    posts: list[PostOut] = []


class SocialOut(BaseModel):
    contact_id: int
    photo_url: str
    enrichment_consent: bool
    posts_allowed: bool  # consent, or a tenant that does not restrict without it
    links: list[LinkWithSnapshot]


class FindOut(BaseModel):
    status: str
    retry_at: datetime | None
    reason: str
    counts: dict[str, int]
    social: SocialOut


class NetworkSummary(BaseModel):
    provider: str
    handle: str
    profile_url: str
    avatar_url: str
    headline: str
    followers: int | None


class ScreenPopOut(BaseModel):
    contact: dict[str, Any]
    photo_url: str
    networks: list[NetworkSummary]
    suggestions: int


class RunOut(Out):
    id: int
    trigger: str
    status: str
    cursor: int
    total: int
    processed: int
    linked: int
    suggested: int
    stale: int
    failed: int
    calls: int
    rate_limited: int
    transient_errors: int
    resume_at: datetime | None
    error: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunList(BaseModel):
    items: list[RunOut]


class ReportOut(BaseModel):
    contacts: int
    coverage: list[dict[str, Any]]
    suggestions_waiting: int
    stale_links: int
    rejected: int
    follower_bands: dict[str, dict[str, int]]
