"""What an IMAP account's sync left in the database, read afresh."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from socialcrm.core.db import Database
from socialcrm.signatures.models import ImapAccount, ReceivedEmail


def sync_state(db: Database, account_id: int) -> tuple[int, str | None, list[int]]:
    """(last_uid, lease owner, the UIDs of the stored messages in order)."""
    with db.session(system=True) as session:
        account = session.get(ImapAccount, account_id)
        assert account is not None
        uids = session.scalars(
            select(ReceivedEmail.imap_uid).where(ReceivedEmail.imap_account_id == account_id)
        ).all()
        return account.last_uid, account.sync_owner, sorted(u for u in uids if u is not None)


def set_account(db: Database, account_id: int, **values: Any) -> None:
    """Change the account behind the sync's back (another worker, a clock that moved)."""
    with db.session(system=True) as session:
        account = session.get(ImapAccount, account_id)
        assert account is not None
        for name, value in values.items():
            setattr(account, name, value)
