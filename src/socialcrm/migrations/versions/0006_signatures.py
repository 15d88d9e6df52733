"""signatures: received emails, enrichment suggestions, IMAP accounts

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.crypto
import socialcrm.core.db

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imap_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("password", socialcrm.core.crypto.EncryptedString(length=2000), nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("last_sync_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_imap_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_imap_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imap_accounts")),
    )
    op.create_table(
        "received_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("sent_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("imap_account_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("from_html", sa.Boolean(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["imap_account_id"],
            ["imap_accounts.id"],
            name=op.f("fk_received_emails_imap_account_id_imap_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_received_emails_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_received_emails_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_emails")),
        sa.UniqueConstraint("tenant_id", "message_id", name="uq_received_emails_tenant_message"),
    )
    op.create_table(
        "enrichment_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=340), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("value_key", sa.String(length=400), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_enrichment_suggestions_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_enrichment_suggestions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_suggestions")),
        sa.UniqueConstraint(
            "tenant_id", "subject_key", "field", "value_key", name="uq_enrichment_suggestions_value"
        ),
    )
    op.create_index(
        op.f("ix_imap_accounts_tenant_id"), "imap_accounts", ["tenant_id"], unique=False
    )
    op.create_index(op.f("ix_imap_accounts_user_id"), "imap_accounts", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_received_emails_received_at"), "received_emails", ["received_at"], unique=False
    )
    op.create_index(
        op.f("ix_received_emails_tenant_id"), "received_emails", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_received_emails_ticket_id"), "received_emails", ["ticket_id"], unique=False
    )
    op.create_index(
        op.f("ix_enrichment_suggestions_contact_id"),
        "enrichment_suggestions",
        ["contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_enrichment_suggestions_subject",
        "enrichment_suggestions",
        ["tenant_id", "subject_key", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_enrichment_suggestions_tenant_id"),
        "enrichment_suggestions",
        ["tenant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("enrichment_suggestions")
    op.drop_table("received_emails")
    op.drop_table("imap_accounts")
