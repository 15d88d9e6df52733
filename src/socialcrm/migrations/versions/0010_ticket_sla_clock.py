"""tickets: the first-response SLA clock (due, first responded, breached)

The clock lives on the Ticket, so the CRM, the engage replies and the breach check share one
record of it. Existing social Tickets take their due time from ``listening_social_tickets``
and their first response from ``engage_ticket_first_responses``; a Ticket already handled
(pending or closed) without a recorded reply counts as answered when it last changed. Open
Tickets already overdue are marked breached at their due time without escalating: the
upgrade must not flood agents and webhooks with notifications about old Tickets.

The columns are nullable, so SQLite adds them in place (no table rebuild) and PostgreSQL
without rewriting the table. ``listening_social_tickets.first_response_due_at`` goes: the
Ticket's own column is the one clock (down again, it is restored from it).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0008"  # engage_ticket_first_responses

COLUMNS = ("first_response_due_at", "first_responded_at", "sla_breached_at")
RUNNING = "first_responded_at IS NULL AND sla_breached_at IS NULL"


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(
            "tickets",
            sa.Column(name, socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        )
    op.execute(
        "UPDATE tickets SET first_response_due_at = (SELECT s.first_response_due_at"
        " FROM listening_social_tickets s WHERE s.ticket_id = tickets.id)"
        " WHERE id IN (SELECT ticket_id FROM listening_social_tickets)"
    )
    op.execute(
        "UPDATE tickets SET first_responded_at = (SELECT r.responded_at"
        " FROM engage_ticket_first_responses r WHERE r.ticket_id = tickets.id)"
        " WHERE id IN (SELECT ticket_id FROM engage_ticket_first_responses)"
    )
    op.execute(
        "UPDATE tickets SET first_responded_at = updated_at"
        " WHERE first_responded_at IS NULL AND first_response_due_at IS NOT NULL"
        " AND status <> 'open'"
    )
    op.execute(
        "UPDATE tickets SET sla_breached_at = first_response_due_at"
        " WHERE status = 'open' AND first_responded_at IS NULL"
        " AND first_response_due_at < CURRENT_TIMESTAMP"
    )
    with op.batch_alter_table("listening_social_tickets") as batch:
        batch.drop_column("first_response_due_at")
    op.create_index(
        "ix_tickets_sla_running",
        "tickets",
        ["tenant_id", "first_response_due_at"],
        sqlite_where=sa.text(RUNNING),
        postgresql_where=sa.text(RUNNING),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_sla_running", table_name="tickets")
    op.add_column(
        "listening_social_tickets",
        sa.Column(
            "first_response_due_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.execute(
        "UPDATE listening_social_tickets SET first_response_due_at = COALESCE((SELECT"
        " t.first_response_due_at FROM tickets t WHERE t.id = listening_social_tickets.ticket_id),"
        " created_at)"
    )
    with op.batch_alter_table("listening_social_tickets") as batch:
        batch.alter_column(
            "first_response_due_at",
            existing_type=socialcrm.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )
    for name in reversed(COLUMNS):
        op.drop_column("tickets", name)
