"""discovery: chunk leases, so a job whose worker died (kill -9) is resumed and finishes

One row per chunk of a job: the worker that runs it holds a lease it renews while it crawls;
a chunk whose lease ran out with items still pending is enqueued again. Jobs left unfinished
before this revision get their chunk rows (never dispatched), so the first worker to start
resumes them.

Revision ID: 0014
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0004"  # discovery_jobs, discovery_items

UTC = socialcrm.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "discovery_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_discovery_chunks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["discovery_jobs.id"],
            name=op.f("fk_discovery_chunks_job_id_discovery_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_chunks")),
        sa.UniqueConstraint("job_id", "chunk", name="uq_discovery_chunks_job_chunk"),
    )
    op.create_index(
        op.f("ix_discovery_chunks_tenant_id"), "discovery_chunks", ["tenant_id"], unique=False
    )
    op.create_index("ix_discovery_chunks_unfinished", "discovery_chunks", ["finished_at", "job_id"])
    op.execute(
        "INSERT INTO discovery_chunks (tenant_id, job_id, chunk, attempts)"
        " SELECT DISTINCT i.tenant_id, i.job_id, i.chunk, 0 FROM discovery_items i"
        " JOIN discovery_jobs j ON j.id = i.job_id WHERE j.status IN ('pending', 'running')"
    )


def downgrade() -> None:
    op.drop_index("ix_discovery_chunks_unfinished", table_name="discovery_chunks")
    op.drop_index(op.f("ix_discovery_chunks_tenant_id"), table_name="discovery_chunks")
    op.drop_table("discovery_chunks")
