"""publishing and engage: scheduled posts, targets, tracked links, engagement, budgets,
outbound messages and tickets' first responses

Revision ID: 0008
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0008"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pub_campaign_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pub_campaign_budgets_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_campaign_budgets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_campaign_budgets")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_pub_campaign_budgets_campaign_id")),
    )
    op.create_index(
        op.f("ix_pub_campaign_budgets_tenant_id"),
        "pub_campaign_budgets",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "pub_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("local_time", sa.String(length=32), nullable=False),
        sa.Column("publish_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("track_links", sa.Boolean(), nullable=False),
        sa.Column("utm_campaign", sa.String(length=120), nullable=False),
        sa.Column("media_urls", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("approved_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_pub_posts_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pub_posts_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_posts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_posts")),
    )
    op.create_index(op.f("ix_pub_posts_campaign_id"), "pub_posts", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_pub_posts_tenant_id"), "pub_posts", ["tenant_id"], unique=False)
    op.create_table(
        "pub_metrics_pacing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("social_account_id", sa.Integer(), nullable=False),
        sa.Column("resume_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["social_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_pub_metrics_pacing_social_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_metrics_pacing_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_metrics_pacing")),
        sa.UniqueConstraint(
            "social_account_id", name=op.f("uq_pub_metrics_pacing_social_account_id")
        ),
    )
    op.create_index(
        op.f("ix_pub_metrics_pacing_tenant_id"), "pub_metrics_pacing", ["tenant_id"], unique=False
    )
    op.create_table(
        "pub_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("social_account_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("variant_text", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=False),
        sa.Column("claimed_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("published_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("metrics_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pub_targets_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["pub_posts.id"],
            name=op.f("fk_pub_targets_post_id_pub_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["social_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_pub_targets_social_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_targets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_targets")),
        sa.UniqueConstraint("post_id", "social_account_id", name=op.f("uq_pub_targets_post_id")),
    )
    op.create_index(
        "ix_pub_targets_campaign", "pub_targets", ["tenant_id", "campaign_id"], unique=False
    )
    op.create_index("ix_pub_targets_due", "pub_targets", ["status", "due_at"], unique=False)
    op.create_index(op.f("ix_pub_targets_post_id"), "pub_targets", ["post_id"], unique=False)
    op.create_index(
        op.f("ix_pub_targets_social_account_id"), "pub_targets", ["social_account_id"], unique=False
    )
    op.create_index(op.f("ix_pub_targets_tenant_id"), "pub_targets", ["tenant_id"], unique=False)
    op.create_table(
        "pub_engagement_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pub_engagement_daily_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["pub_targets.id"],
            name=op.f("fk_pub_engagement_daily_target_id_pub_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_engagement_daily_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_engagement_daily")),
        sa.UniqueConstraint("target_id", "day", name=op.f("uq_pub_engagement_daily_target_id")),
    )
    op.create_index(
        "ix_pub_engagement_campaign_day",
        "pub_engagement_daily",
        [
            "tenant_id",
            "campaign_id",
            "day",
            "likes",
            "comments",
            "shares",
            "impressions",
            "clicks",
        ],
        unique=False,
    )
    op.create_index(
        op.f("ix_pub_engagement_daily_tenant_id"),
        "pub_engagement_daily",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "pub_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("destination", sa.String(length=2000), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pub_links_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["pub_targets.id"],
            name=op.f("fk_pub_links_target_id_pub_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pub_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pub_links")),
        sa.UniqueConstraint("code", name=op.f("uq_pub_links_code")),
    )
    op.create_index(op.f("ix_pub_links_target_id"), "pub_links", ["target_id"], unique=False)
    op.create_index(op.f("ix_pub_links_tenant_id"), "pub_links", ["tenant_id"], unique=False)
    op.create_table(
        "engage_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("social_account_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("in_reply_to_id", sa.String(length=300), nullable=False),
        sa.Column("recipient_user_id", sa.String(length=200), nullable=False),
        sa.Column("recipient_handle", sa.String(length=320), nullable=False),
        sa.Column("conversation_id", sa.String(length=300), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_engage_messages_activity_id_activities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_engage_messages_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_engage_messages_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"],
            ["users.id"],
            name=op.f("fk_engage_messages_sender_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["social_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_engage_messages_social_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_engage_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_engage_messages_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_messages")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_engage_messages_tenant_id")
        ),
    )
    op.create_index(
        op.f("ix_engage_messages_contact_id"), "engage_messages", ["contact_id"], unique=False
    )
    op.create_index(
        op.f("ix_engage_messages_social_account_id"),
        "engage_messages",
        ["social_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_engage_messages_tenant_id"), "engage_messages", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_engage_messages_thread",
        "engage_messages",
        ["tenant_id", "network", "conversation_id"],
        unique=False,
    )
    op.create_table(
        "engage_ticket_first_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("responded_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["engage_messages.id"],
            name=op.f("fk_engage_ticket_first_responses_message_id_engage_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_engage_ticket_first_responses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_engage_ticket_first_responses_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_ticket_first_responses")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_engage_ticket_first_responses_ticket_id")),
    )
    op.create_index(
        op.f("ix_engage_ticket_first_responses_tenant_id"),
        "engage_ticket_first_responses",
        ["tenant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("engage_ticket_first_responses")
    op.drop_table("engage_messages")
    op.drop_table("pub_links")
    op.drop_table("pub_engagement_daily")
    op.drop_table("pub_targets")
    op.drop_table("pub_metrics_pacing")
    op.drop_table("pub_posts")
    op.drop_table("pub_campaign_budgets")
