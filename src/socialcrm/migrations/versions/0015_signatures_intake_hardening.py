"""signatures: failed mailbox messages, the IMAP sync lease

``received_emails.error`` keeps why a mailbox message could not be read (the sync stores it as
a failed message and moves on) and ``imap_uid`` which UID it had; ``imap_accounts`` gets the
lease of the one sync allowed at a time (``sync_owner`` until ``sync_lease_until``), so a sync
whose worker was killed is resumed once the lease expires. All columns are nullable or have a
server default: SQLite adds them in place, PostgreSQL without rewriting the tables.

Revision ID: 0015
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0006"  # received_emails, imap_accounts


def upgrade() -> None:
    op.add_column(
        "received_emails",
        sa.Column("error", sa.String(length=500), nullable=False, server_default=""),
    )
    op.add_column("received_emails", sa.Column("imap_uid", sa.BigInteger(), nullable=True))
    op.add_column("imap_accounts", sa.Column("sync_owner", sa.String(length=80), nullable=True))
    op.add_column(
        "imap_accounts",
        sa.Column("sync_lease_until", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("imap_accounts") as batch:
        batch.drop_column("sync_lease_until")
        batch.drop_column("sync_owner")
    with op.batch_alter_table("received_emails") as batch:
        batch.drop_column("imap_uid")
        batch.drop_column("error")
