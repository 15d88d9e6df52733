"""discovery: bulk socials jobs and items, Accounts' profile suggestions and runs

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = socialcrm.core.db.UTCDateTime(timezone=True)


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "discovery_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source_job_id", sa.String(length=100), nullable=True),
        sa.Column("items_count", sa.Integer(), nullable=False),
        sa.Column("dropped_count", sa.Integer(), nullable=False),
        sa.Column("ef_cost", sa.Float(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("processed_count", sa.Integer(), nullable=False),
        sa.Column("found_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("input_columns", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        *_tenant("discovery_jobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_jobs")),
    )
    op.create_index(
        op.f("ix_discovery_jobs_tenant_id"), "discovery_jobs", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_discovery_jobs_tenant_created", "discovery_jobs", ["tenant_id", "created_at"]
    )
    op.create_table(
        "discovery_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("site_url", sa.String(length=2100), nullable=False),
        sa.Column("http_fallback", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("profiles", sa.JSON(), nullable=False),
        sa.Column("failure", sa.String(length=40), nullable=False),
        sa.Column("failure_detail", sa.String(length=300), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        *_tenant("discovery_items"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["discovery_jobs.id"],
            name=op.f("fk_discovery_items_job_id_discovery_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_items")),
        sa.UniqueConstraint("job_id", "position", name="uq_discovery_items_job_position"),
    )
    op.create_index(
        op.f("ix_discovery_items_tenant_id"), "discovery_items", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_discovery_items_job_chunk", "discovery_items", ["job_id", "chunk", "status"]
    )
    op.create_table(
        "account_profile_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("found_on", sa.String(length=2100), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        *_tenant("account_profile_suggestions"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_profile_suggestions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_profile_suggestions")),
        sa.UniqueConstraint("account_id", "url", name="uq_account_profile_suggestions_account_url"),
    )
    op.create_index(
        op.f("ix_account_profile_suggestions_tenant_id"),
        "account_profile_suggestions",
        ["tenant_id"],
    )
    op.create_index(
        op.f("ix_account_profile_suggestions_account_id"),
        "account_profile_suggestions",
        ["account_id"],
    )
    op.create_table(
        "account_discovery_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        sa.Column("ran_at", UTC, nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("failure", sa.String(length=40), nullable=False),
        sa.Column("failure_detail", sa.String(length=300), nullable=False),
        *_tenant("account_discovery_runs"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_discovery_runs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_discovery_runs")),
        sa.UniqueConstraint("account_id", name=op.f("uq_account_discovery_runs_account_id")),
    )
    op.create_index(
        op.f("ix_account_discovery_runs_tenant_id"), "account_discovery_runs", ["tenant_id"]
    )


def downgrade() -> None:
    op.drop_table("account_discovery_runs")
    op.drop_table("account_profile_suggestions")
    op.drop_table("discovery_items")
    op.drop_table("discovery_jobs")
