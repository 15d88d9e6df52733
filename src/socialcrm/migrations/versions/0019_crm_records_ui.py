"""crm: typed emails, a Lead's owner, Activities on a Lead's timeline

- ``contacts.email_types``: the type of each address (work, personal, other), keyed by it;
  the list of emails stays as it is (phones carry their own type since 0015).
- ``leads.owner_id``: who works the Lead. Social Leads already routed to someone by listening
  (``listening_social_leads.assignee_id``) take that person as their owner.
- ``activities.lead_id``: a note or call logged on a Lead that has no Contact yet.

Every column is added in place, on SQLite too: batch mode would rebuild ``contacts`` without
its search triggers, and rebuilding ``leads`` would delete (by cascade) the rows of other
tables that point at it. SQLite takes a column-level REFERENCES clause in ADD COLUMN and drops
such a column in place (3.35+).

Revision ID: 0019
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REFERENCES = (
    ("leads", "owner_id", "users", "fk_leads_owner_id_users"),
    ("activities", "lead_id", "leads", "fk_activities_lead_id_leads"),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column(
        "contacts",
        sa.Column("email_types", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    for table, column, target, constraint in REFERENCES:
        if _sqlite():
            # Not batch mode: rebuilding ``leads`` drops the old table, and with foreign keys
            # on SQLite deletes what points at it (listening's social Leads cascade).
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {constraint}"
                f" REFERENCES {target} (id) ON DELETE SET NULL"
            )
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(constraint, table, target, [column], ["id"], ondelete="SET NULL")
        op.create_index(f"ix_{table}_{column}", table, [column])
    op.execute(
        "UPDATE leads SET owner_id = (SELECT s.assignee_id FROM listening_social_leads s"
        " WHERE s.lead_id = leads.id)"
        " WHERE id IN (SELECT lead_id FROM listening_social_leads"
        " WHERE assignee_id IS NOT NULL)"
    )


def downgrade() -> None:
    for table, column, _target, constraint in reversed(REFERENCES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        if _sqlite():  # a column-level reference: SQLite drops it with the column
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_constraint(constraint, table, type_="foreignkey")
            op.drop_column(table, column)
    op.drop_column("contacts", "email_types")
