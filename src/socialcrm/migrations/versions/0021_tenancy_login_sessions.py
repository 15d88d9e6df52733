"""tenancy: server-side login sessions, and failed logins for throttling

- ``login_sessions``: one row per browser login; the cookie carries a random token, the row
  its SHA-256. Logging out, or an admin deactivating the user or the tenant, revokes it, so a
  copied cookie stops working; idle and absolute expiry are checked against the row.
- ``login_failures``: one row per refused password, keyed by a digest of the account or of the
  address; read before a login to refuse too many failures with 429.

Users logged in before this revision log in again (their cookie names no session).

Revision ID: 0021
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])
    op.create_index("ix_login_failures_key", "login_failures", ["key_hash", "failed_at"])
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_login_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    for column in ("expires_at", "tenant_id", "user_id"):
        op.create_index(f"ix_login_sessions_{column}", "login_sessions", [column])


def downgrade() -> None:
    op.drop_table("login_sessions")  # its indexes go with it
    op.drop_table("login_failures")
