"""crm: typed emails and phones, a Lead's owner, Activities on a Lead's timeline

- ``contacts.email_types`` / ``contacts.phone_types``: the type of each address and number
  (work, mobile, …), keyed by it; the lists themselves stay as they are.
- ``leads.owner_id``: who works the Lead. Social Leads already routed to someone by listening
  (``listening_social_leads.assignee_id``) take that person as their owner.
- ``activities.lead_id``: a note or call logged on a Lead that has no Contact yet.

The JSON columns are added in place (``contacts`` keeps its search triggers). SQLite cannot
add or drop a foreign key in place, so ``leads`` and ``activities`` are rebuilt there in batch
mode (neither has triggers); PostgreSQL alters them in place.

Revision ID: 0019
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("email_types", "phone_types"):
        op.add_column(
            "contacts", sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_leads_owner_id_users", "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_leads_owner_id", ["owner_id"])
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("lead_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_activities_lead_id_leads", "leads", ["lead_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_activities_lead_id", ["lead_id"])
    op.execute(
        "UPDATE leads SET owner_id = (SELECT s.assignee_id FROM listening_social_leads s"
        " WHERE s.lead_id = leads.id)"
        " WHERE id IN (SELECT lead_id FROM listening_social_leads"
        " WHERE assignee_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_index("ix_activities_lead_id")
        batch.drop_constraint("fk_activities_lead_id_leads", type_="foreignkey")
        batch.drop_column("lead_id")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_owner_id")
        batch.drop_constraint("fk_leads_owner_id_users", type_="foreignkey")
        batch.drop_column("owner_id")
    for name in ("phone_types", "email_types"):
        op.drop_column("contacts", name)
