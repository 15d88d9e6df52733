"""core: the queue's outbox (``queued_tasks``)

A job enqueued by a unit of work is stored with it and deleted once the queue has it; a queue
that was down when the data was committed gets the job later (``core/outbox.py``).

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queued_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_tasks")),
    )
    op.create_index(op.f("ix_queued_tasks_created_at"), "queued_tasks", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_queued_tasks_created_at"), table_name="queued_tasks")
    op.drop_table("queued_tasks")
