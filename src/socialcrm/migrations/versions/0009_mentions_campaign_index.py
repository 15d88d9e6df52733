"""social mentions: an index for campaign attribution

Attribution counts one campaign's mentions by day, kind and sentiment; without this index
that is a scan of every mention of the tenant. On PostgreSQL the counted columns ride along
(INCLUDE), so the query is answered from the index.

Revision ID: 0009
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_social_mentions_campaign",
        "social_mentions",
        ["tenant_id", "campaign_id", "posted_at"],
        postgresql_include=["kind", "sentiment_label"],
    )


def downgrade() -> None:
    op.drop_index("ix_social_mentions_campaign", table_name="social_mentions")
