"""A person's IMAP mailboxes: connecting one (audit-logged), listing, what each brought in,
forgetting one. The sync itself is ``imap.py``, run by the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.errors import Forbidden, NotFound
from socialcrm.core.principal import Principal, Role
from socialcrm.signatures.models import (
    ImapAccount,
    ReceivedEmail,
)


def create_imap_account(
    session: Session, *, user_id: int | None, values: dict[str, Any]
) -> ImapAccount:
    account = ImapAccount(user_id=user_id, **values)
    session.add(account)
    session.flush()
    return account


def list_imap_accounts(session: Session, *, user_id: int | None, admin: bool) -> list[ImapAccount]:
    stmt = select(ImapAccount).order_by(ImapAccount.id)
    if not admin:
        if user_id is None:  # a key without a user owns no mailbox (``user_id IS NULL``)
            return []
        stmt = stmt.where(ImapAccount.user_id == user_id)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class MailboxIntake:
    """What a mailbox brought in: messages imported, messages that could not be read and
    why (the most frequent reasons first)."""

    imported: int = 0
    failed: int = 0
    reasons: tuple[tuple[str, int], ...] = ()


def mailbox_intake(session: Session, account_ids: Sequence[int]) -> dict[int, MailboxIntake]:
    """Each mailbox's imported and failed messages, by id (mailboxes with none are absent)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(ReceivedEmail.imap_account_id, ReceivedEmail.error, func.count())
        .where(ReceivedEmail.imap_account_id.in_(set(account_ids)))
        .group_by(ReceivedEmail.imap_account_id, ReceivedEmail.error)
    ).all()
    imported: dict[int, int] = {}
    reasons: dict[int, list[tuple[str, int]]] = {}
    for account_id, error, count in rows:
        if account_id is None:
            continue
        if error:
            reasons.setdefault(account_id, []).append((error, int(count)))
        else:
            imported[account_id] = int(count)
    return {
        account_id: MailboxIntake(
            imported=imported.get(account_id, 0),
            failed=sum(n for _, n in reasons.get(account_id, [])),
            reasons=tuple(sorted(reasons.get(account_id, []), key=lambda r: (-r[1], r[0]))[:5]),
        )
        for account_id in set(imported) | set(reasons)
    }


def mailboxes_state(session: Session, *, user_id: int | None, admin: bool) -> dict[str, Any]:
    """What a mailboxes list shows that changes on its own, for its live stream."""
    boxes = list_imap_accounts(session, user_id=user_id, admin=admin)
    intake = mailbox_intake(session, [b.id for b in boxes])
    return {
        "mailboxes": [
            [
                b.id,
                b.last_sync_at,
                b.last_error,
                b.syncing,
                intake.get(b.id, MailboxIntake()).imported,
                intake.get(b.id, MailboxIntake()).failed,
            ]
            for b in boxes
        ]
    }


def get_imap_account(
    session: Session, account_id: int, *, user_id: int | None, admin: bool
) -> ImapAccount:
    account = session.get(ImapAccount, account_id)
    if account is None or (not admin and (user_id is None or account.user_id != user_id)):
        raise NotFound(f"IMAP account {account_id} not found")
    return account


def connect_mailbox(session: Session, principal: Principal, values: dict[str, Any]) -> ImapAccount:
    """A mailbox of the caller's (its host must be a public address), audit-logged; it is
    synced every few minutes from now on."""
    from socialcrm.signatures.imap import checked_addresses

    if principal.user_id is None and principal.role != Role.ADMIN:
        raise Forbidden(
            "a mailbox belongs to a person: connect it with a key of a user, or as an admin"
        )
    checked_addresses(str(values["host"]), int(values["port"]))
    account = create_imap_account(session, user_id=principal.user_id, values=values)
    audit.record(
        session,
        actor=principal.actor,
        action="imap_account.create",
        target_type="imap_account",
        target_id=account.id,
        details={"host": account.host, "username": account.username},
    )
    return account


def delete_imap_account(session: Session, principal: Principal, account_id: int) -> None:
    """Stop syncing and forget the mailbox (its imported emails stay), audit-logged."""
    account = get_imap_account(
        session, account_id, user_id=principal.user_id, admin=principal.role == Role.ADMIN
    )
    audit.record(
        session,
        actor=principal.actor,
        action="imap_account.delete",
        target_type="imap_account",
        target_id=account.id,
        details={"host": account.host, "username": account.username},
    )
    session.delete(account)
    session.flush()
