"""signatures: failed mailbox messages, the IMAP sync lease, typed Contact phones

``received_emails.error`` keeps why a mailbox message could not be read (the sync stores it as
a failed message and moves on) and ``imap_uid`` which UID it had; ``imap_accounts`` gets the
lease of the one sync allowed at a time (``sync_owner`` until ``sync_lease_until``), so a sync
whose worker was killed is resumed once the lease expires. All columns are nullable or have a
server default: SQLite adds them in place, PostgreSQL without rewriting the tables.

``contacts.phones`` become typed, ``{"number", "type"}`` (a phone applied from an email
signature keeps its type, and people change it on the Contact page): existing plain numbers
take the default type, business. Down again, the numbers stay and their types are dropped.

Revision ID: 0015
Revises: 0010
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

import socialcrm.core.db

revision: str = "0015"
down_revision: str | None = "0018"
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
    _rewrite_phones(_typed)


def _typed(phone: object) -> object:
    return phone if isinstance(phone, dict) else {"number": str(phone), "type": "business"}


def _plain(phone: object) -> str:
    return str(phone.get("number", "")) if isinstance(phone, dict) else str(phone)


def _rewrite_phones(convert: Callable[[object], object]) -> None:
    """Every Contact's phones through ``convert``, in batches (only rows that change)."""
    conn = op.get_bind()
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("phones", sa.JSON))
    changed: list[dict[str, object]] = []
    rows = conn.execute(sa.select(contacts.c.id, contacts.c.phones)).all()
    for contact_id, phones in rows:
        new = [convert(p) for p in phones or []]
        if new != (phones or []):
            changed.append({"contact_id": contact_id, "new_phones": new})
    statement = (
        sa.update(contacts)
        .where(contacts.c.id == sa.bindparam("contact_id"))
        .values(phones=sa.bindparam("new_phones", type_=sa.JSON))
    )
    for start in range(0, len(changed), 1000):
        conn.execute(statement, changed[start : start + 1000])


def downgrade() -> None:
    _rewrite_phones(_plain)
    with op.batch_alter_table("imap_accounts") as batch:
        batch.drop_column("sync_lease_until")
        batch.drop_column("sync_owner")
    with op.batch_alter_table("received_emails") as batch:
        batch.drop_column("imap_uid")
        batch.drop_column("error")
