"""identity: identity graph (profiles, handle history), email links, guest leads, reviews

Revision ID: 0005
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "identity_reviews",
    "identity_guest_leads",
    "identity_email_links",
    "identity_handle_aliases",
    "identity_profiles",
)


def upgrade() -> None:
    op.create_table(
        "identity_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_identity_profiles_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_identity_profiles_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_profiles")),
        sa.UniqueConstraint(
            "tenant_id", "network", "user_id", name=op.f("uq_identity_profiles_tenant_id")
        ),
    )
    with op.batch_alter_table("identity_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_profiles_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            "ix_identity_profiles_handle", ["tenant_id", "network", "handle"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_identity_profiles_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_identity_profiles_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "identity_handle_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("local", sa.String(length=320), nullable=False),
        sa.Column("skeleton", sa.String(length=400), nullable=False),
        sa.Column("first_seen_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["identity_profiles.id"],
            name=op.f("fk_identity_handle_aliases_profile_id_identity_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_handle_aliases_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_handle_aliases")),
        sa.UniqueConstraint(
            "profile_id", "handle", name=op.f("uq_identity_handle_aliases_profile_id")
        ),
    )
    with op.batch_alter_table("identity_handle_aliases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_handle_aliases_handle", ["tenant_id", "network", "handle"], unique=False
        )
        batch_op.create_index(
            "ix_identity_handle_aliases_local", ["tenant_id", "local"], unique=False
        )
        batch_op.create_index(
            "ix_identity_handle_aliases_skeleton",
            ["tenant_id", "network", "skeleton"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_identity_handle_aliases_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "identity_email_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_identity_email_links_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_email_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_email_links")),
        sa.UniqueConstraint(
            "tenant_id",
            "email",
            "network",
            "handle",
            name=op.f("uq_identity_email_links_tenant_id"),
        ),
    )
    with op.batch_alter_table("identity_email_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_email_links_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index("ix_identity_email_links_email", ["tenant_id", "email"], unique=False)
        batch_op.create_index(
            "ix_identity_email_links_handle", ["tenant_id", "network", "handle"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_email_links_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_identity_email_links_user", ["tenant_id", "network", "user_id"], unique=False
        )

    op.create_table(
        "identity_guest_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_identity_guest_leads_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_guest_leads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_guest_leads")),
        sa.UniqueConstraint(
            "tenant_id", "network", "subject", name=op.f("uq_identity_guest_leads_tenant_id")
        ),
    )
    with op.batch_alter_table("identity_guest_leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_guest_leads_lead_id"), ["lead_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_guest_leads_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "identity_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("candidate_contact_id", sa.Integer(), nullable=True),
        sa.Column("source_contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False),
        sa.Column("decided_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_contact_id"],
            ["contacts.id"],
            name=op.f("fk_identity_reviews_candidate_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_identity_reviews_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_contact_id"],
            ["contacts.id"],
            name=op.f("fk_identity_reviews_source_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_reviews")),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name=op.f("uq_identity_reviews_tenant_id")),
    )
    with op.batch_alter_table("identity_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_reviews_status", ["tenant_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_reviews_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
