"""leases: publishing targets, metrics reads and webhook deliveries survive a killed worker

``lease_owner``/``lease_until`` on ``pub_targets``, ``pub_metrics_pacing`` and
``listening_webhook_deliveries``; ``pub_targets.started_at`` (the first attempt: where the
search for a post whose answer was lost begins); ``pub_metrics_pacing.requested_at`` (a
metrics cycle asked for and not finished). All nullable, so SQLite adds them in place.
``engage_messages.status`` widens to 20 characters for ``unconfirmed`` (a reply or
DM the network did not answer and cannot show).
Targets already in ``publishing`` start their window at their claim and, having no lease,
are taken over (and looked up on the network) by the next dispatcher run.

Revision ID: 0013
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = socialcrm.core.db.UTCDateTime(timezone=True)
LEASED = ("pub_targets", "pub_metrics_pacing", "listening_webhook_deliveries")
PENDING_INDEX = "ix_listening_webhook_deliveries_pending"


def upgrade() -> None:
    for table in LEASED:
        op.add_column(table, sa.Column("lease_owner", sa.String(length=120), nullable=True))
        op.add_column(table, sa.Column("lease_until", UTC, nullable=True))
    op.add_column("pub_targets", sa.Column("started_at", UTC, nullable=True))
    op.add_column("pub_metrics_pacing", sa.Column("requested_at", UTC, nullable=True))
    op.execute("UPDATE pub_targets SET started_at = claimed_at WHERE claimed_at IS NOT NULL")
    op.create_index(PENDING_INDEX, "listening_webhook_deliveries", ["status", "next_attempt_at"])
    with op.batch_alter_table("engage_messages") as batch:
        batch.alter_column("status", existing_type=sa.String(length=10), type_=sa.String(length=20))


def downgrade() -> None:
    op.execute("UPDATE engage_messages SET status = 'failed' WHERE status = 'unconfirmed'")
    with op.batch_alter_table("engage_messages") as batch:
        batch.alter_column("status", existing_type=sa.String(length=20), type_=sa.String(length=10))
    op.drop_index(PENDING_INDEX, table_name="listening_webhook_deliveries")
    with op.batch_alter_table("pub_metrics_pacing") as batch:
        batch.drop_column("requested_at")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    with op.batch_alter_table("pub_targets") as batch:
        batch.drop_column("started_at")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    with op.batch_alter_table("listening_webhook_deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
