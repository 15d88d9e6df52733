"""What the CRM announces to other domains when its Contacts and Accounts change.

The events come from the rows themselves (``core.events.track``), not from each use case: a
Contact is written by the CRM's API and pages, and also by signature suggestions applied,
identity merges and write-backs, listening, imports and the demo loader; a row flushed by any
of them emits its event, so no writer can forget one. Subscribers are wired in
``socialcrm.wiring``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from socialcrm.core import events
from socialcrm.crm.models import Account, Contact


@dataclass(frozen=True, slots=True)
class ContactChanged:
    """A Contact was created (``created``), or the columns ``fields`` of it changed
    (``previous``: their values before). Emitted inside the flush that wrote it."""

    tenant_id: int
    contact_id: int
    created: bool
    fields: frozenset[str]
    previous: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class ContactErased:
    """A Contact is about to be deleted: emitted before the flush that deletes it, while the
    rows referring to it (links, profiles) are still there."""

    tenant_id: int
    contact_id: int


@dataclass(frozen=True, slots=True)
class AccountWebsiteChanged:
    """A company Account was created with a website, or its website changed to another."""

    tenant_id: int
    account_id: int
    website: str


def _contact_written(contact: Contact, change: events.Change) -> Iterator[object]:
    yield ContactChanged(
        tenant_id=contact.tenant_id,
        contact_id=contact.id,
        created=change.created,
        fields=change.fields,
        previous=change.previous,
    )


def _contact_deleting(contact: Contact) -> Iterator[object]:
    if contact.id is not None:
        yield ContactErased(tenant_id=contact.tenant_id, contact_id=contact.id)


def _account_written(account: Account, change: events.Change) -> Iterator[object]:
    if account.website and (change.created or "website" in change.fields):
        yield AccountWebsiteChanged(account.tenant_id, account.id, account.website)


events.track(Contact, written=_contact_written, deleting=_contact_deleting)
events.track(Account, written=_account_written)
