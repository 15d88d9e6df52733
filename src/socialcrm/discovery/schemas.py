"""API shapes of discovery jobs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcrm.discovery.jobs import MAX_ITEMS


class SocialsJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="1 to 10,000 objects; each needs a site_web, any other keys are kept.",
    )
    source_job_id: str | None = Field(
        default=None, max_length=100, description="The upstream job whose output feeds this one."
    )


class JobCreated(BaseModel):
    id: str
    job_type: str
    status: str
    items_count: int
    ef_cost: float
    dropped_count: int = 0
    source_job_id: str | None = None


class JobUsage(BaseModel):
    month_start: str = Field(description="Start of the calendar month counted (UTC).")
    ef_used: float = Field(description="EF charged by this month's jobs (failed jobs excluded).")
    ef_ceiling: float | None = Field(description="The monthly EF ceiling; null: none set.")
    ef_remaining: float | None
    jobs: int = Field(description="Jobs created this month.")


class FailedItem(BaseModel):
    position: int
    site_web: Any = None
    reason: str
    detail: str = ""


class FailureSummary(BaseModel):
    count: int
    by_reason: dict[str, int]
    items: list[FailedItem]


class JobSnapshot(BaseModel):
    id: str
    job_type: str
    status: str
    source_job_id: str | None
    items_count: int
    dropped_count: int
    ef_cost: float
    processed_count: int
    found_count: int
    failed_count: int
    progress: float
    chunks_total: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    failures: FailureSummary


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    network: str
    url: str
    status: str
    found_on: str
    decided_by: str


class AccountProfilesOut(BaseModel):
    account_id: int
    last_run_at: str | None
    last_failure: str | None
    suggestions: list[SuggestionOut]
