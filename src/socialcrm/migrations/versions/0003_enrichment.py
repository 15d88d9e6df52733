"""enrichment: social profile links, snapshots, posts, runs, contact keys

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = socialcrm.core.db.UTCDateTime(timezone=True)


def _tenant() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.Integer(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "social_profile_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_user_id", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("handle_key", sa.String(length=320), nullable=False),
        sa.Column("profile_url", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("use_as_photo", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("stale_since", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _tenant(),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_social_profile_links_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        _tenant_fk("social_profile_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_profile_links")),
        sa.UniqueConstraint(
            "contact_id",
            "provider",
            "external_user_id",
            name=op.f("uq_social_profile_links_contact_id"),
        ),
    )
    op.create_index(
        op.f("ix_social_profile_links_contact_id"), "social_profile_links", ["contact_id"]
    )
    op.create_index(
        op.f("ix_social_profile_links_tenant_id"), "social_profile_links", ["tenant_id"]
    )
    op.create_index(
        "ix_social_profile_links_tenant_handle", "social_profile_links", ["tenant_id", "handle_key"]
    )
    op.create_index(
        "ix_social_profile_links_tenant_status",
        "social_profile_links",
        ["tenant_id", "status", "provider"],
    )

    op.create_table(
        "social_profile_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_user_id", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("handle_key", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("headline", sa.String(length=500), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("avatar_url", sa.String(length=1000), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("profile_url", sa.String(length=1000), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("fetched_at", UTC, nullable=False),
        sa.Column("posts_fetched_at", UTC, nullable=True),
        _tenant(),
        _tenant_fk("social_profile_snapshots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_profile_snapshots")),
    )
    op.create_index(
        op.f("ix_social_profile_snapshots_tenant_id"), "social_profile_snapshots", ["tenant_id"]
    )
    op.create_index(
        "ix_social_profile_snapshots_profile",
        "social_profile_snapshots",
        ["tenant_id", "provider", "external_user_id", "fetched_at"],
    )
    op.create_index(
        "ix_social_profile_snapshots_handle",
        "social_profile_snapshots",
        ["tenant_id", "provider", "handle_key"],
    )

    op.create_table(
        "social_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_user_id", sa.String(length=200), nullable=False),
        sa.Column("post_id", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("posted_at", UTC, nullable=True),
        sa.Column("fetched_at", UTC, nullable=False),
        _tenant(),
        _tenant_fk("social_posts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_posts")),
        sa.UniqueConstraint(
            "tenant_id", "provider", "post_id", name=op.f("uq_social_posts_tenant_id")
        ),
    )
    op.create_index(op.f("ix_social_posts_tenant_id"), "social_posts", ["tenant_id"])
    op.create_index(
        "ix_social_posts_profile", "social_posts", ["tenant_id", "provider", "external_user_id"]
    )

    op.create_table(
        "contact_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        _tenant(),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_keys_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        _tenant_fk("contact_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_keys")),
    )
    op.create_index(op.f("ix_contact_keys_contact_id"), "contact_keys", ["contact_id"])
    op.create_index(op.f("ix_contact_keys_tenant_id"), "contact_keys", ["tenant_id"])
    op.create_index("ix_contact_keys_lookup", "contact_keys", ["tenant_id", "kind", "value"])

    op.create_table(
        "enrichment_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("suggested", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("rate_limited", sa.Integer(), nullable=False),
        sa.Column("transient_errors", sa.Integer(), nullable=False),
        sa.Column("outage_attempts", sa.Integer(), nullable=False),
        sa.Column("budgets", sa.JSON(), nullable=False),
        sa.Column("resume_at", UTC, nullable=True),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        _tenant(),
        _tenant_fk("enrichment_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_runs")),
    )
    op.create_index(op.f("ix_enrichment_runs_tenant_id"), "enrichment_runs", ["tenant_id"])
    op.create_index("ix_enrichment_runs_tenant_status", "enrichment_runs", ["tenant_id", "status"])
    _backfill_contact_keys()


def _backfill_contact_keys() -> None:
    """Screen-pop keys of the Contacts that exist already."""
    from socialcrm.enrichment.keys import contact_keys

    conn = op.get_bind()
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("tenant_id", sa.Integer),
        sa.column("emails", sa.JSON),
        sa.column("phones", sa.JSON),
        sa.column("handles", sa.JSON),
    )
    keys_table = sa.table(
        "contact_keys",
        sa.column("tenant_id", sa.Integer),
        sa.column("contact_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
    )
    batch: list[dict[str, object]] = []
    result = conn.execute(sa.select(contacts)).mappings()
    for row in result:
        for kind, value in sorted(
            contact_keys(row["emails"] or [], row["phones"] or [], row["handles"] or [])
        ):
            batch.append(
                {
                    "tenant_id": row["tenant_id"],
                    "contact_id": row["id"],
                    "kind": kind,
                    "value": value,
                }
            )
    for start in range(0, len(batch), 5000):
        conn.execute(sa.insert(keys_table), batch[start : start + 5000])


def downgrade() -> None:
    for table in (
        "enrichment_runs",
        "contact_keys",
        "social_posts",
        "social_profile_snapshots",
        "social_profile_links",
    ):
        op.drop_table(table)
