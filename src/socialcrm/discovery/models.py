"""Discovery's tables: bulk jobs and their items, and Accounts' profile suggestions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped by a person: items not crawled yet have no results


class ItemStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class SuggestionStatus(StrEnum):
    SUGGESTED = "suggested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def new_job_id() -> str:
    return str(uuid.uuid4())


class DiscoveryJob(TenantScoped, Base):
    """One bulk run over a list of items; its items are processed in chunks by the queue."""

    __tablename__ = "discovery_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_job_id)
    job_type: Mapped[str] = mapped_column(String(20), default="socials")
    status: Mapped[JobStatus] = mapped_column(String(12), default=JobStatus.PENDING)
    source_job_id: Mapped[str | None] = mapped_column(String(100), default=None)
    items_count: Mapped[int] = mapped_column(default=0)
    dropped_count: Mapped[int] = mapped_column(default=0)
    ef_cost: Mapped[float] = mapped_column(default=0.0)
    chunks_total: Mapped[int] = mapped_column(default=0)
    processed_count: Mapped[int] = mapped_column(default=0)
    found_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    input_columns: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_discovery_jobs_tenant_created", "tenant_id", "created_at"),)


class DiscoveryItem(TenantScoped, Base):
    """One input item of a job, kept as given, with what was found for it."""

    __tablename__ = "discovery_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("discovery_jobs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    chunk: Mapped[int] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    site_url: Mapped[str] = mapped_column(String(2100))
    http_fallback: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ItemStatus] = mapped_column(String(12), default=ItemStatus.PENDING)
    profiles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    failure: Mapped[str] = mapped_column(String(40), default="")
    failure_detail: Mapped[str] = mapped_column(String(300), default="")
    pages: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("job_id", "position", name="uq_discovery_items_job_position"),
        Index("ix_discovery_items_job_chunk", "job_id", "chunk", "status"),
    )


class DiscoveryChunk(TenantScoped, Base):
    """One chunk of a job: who runs it and until when (a lease the worker renews while it
    crawls), so that a chunk whose worker died is run again for its unfinished items."""

    __tablename__ = "discovery_chunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("discovery_jobs.id", ondelete="CASCADE"))
    chunk: Mapped[int] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)  # times a worker took it
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)  # last enqueued
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("job_id", "chunk", name="uq_discovery_chunks_job_chunk"),
        Index("ix_discovery_chunks_unfinished", "finished_at", "job_id"),
    )


class AccountProfileSuggestion(TenantScoped, Timestamps, Base):
    """A profile found on an Account's website; a person accepts or rejects it.

    A rejected URL stays here as ``rejected`` so that later runs never suggest it again.
    """

    __tablename__ = "account_profile_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(300))
    status: Mapped[SuggestionStatus] = mapped_column(String(12), default=SuggestionStatus.SUGGESTED)
    found_on: Mapped[str] = mapped_column(String(2100), default="")
    decided_by: Mapped[str] = mapped_column(String(40), default="")
    decided_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("account_id", "url", name="uq_account_profile_suggestions_account_url"),
    )


class AccountDiscoveryRun(TenantScoped, Base):
    """The last time an Account's website was read, and how it went."""

    __tablename__ = "account_discovery_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    website: Mapped[str] = mapped_column(String(500), default="")
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    found: Mapped[int] = mapped_column(default=0)
    failure: Mapped[str] = mapped_column(String(40), default="")
    failure_detail: Mapped[str] = mapped_column(String(300), default="")
