"""connections: account_choices, the Pages a person picks from after Facebook Login

Facebook Login signs in a person; each Page they manage has its own token. Between the
callback and the person's pick, the offered Pages and their tokens wait here, encrypted,
for ten minutes at most.

Revision ID: 0018
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.crypto
import socialcrm.core.db

revision: str = "0018"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("ownership", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("offered", socialcrm.core.crypto.EncryptedString(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", socialcrm.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_account_choices_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_choices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_choices")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_account_choices_key_hash")),
    )
    with op.batch_alter_table("account_choices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_choices_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_choices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_choices_tenant_id"))
    op.drop_table("account_choices")
