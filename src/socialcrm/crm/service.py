"""CRM use cases: create, read, update, delete and list records of the caller's tenant.

The session is tenant-scoped (see ``core.db``), so these functions never filter by tenant
themselves and cannot reach another tenant's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, case, func, or_, select, text
from sqlalchemy import update as sql_update  # ``update`` is this module's use case
from sqlalchemy.orm import Session

from socialcrm.core import notify
from socialcrm.core.db import Base, utcnow
from socialcrm.core.errors import NotFound, ValidationFailed
from socialcrm.core.numbers import parse_cursor
from socialcrm.crm import phones, sla, terms
from socialcrm.crm.models import (
    Account,
    Activity,
    Campaign,
    Contact,
    Lead,
    Priority,
    Ticket,
    TicketStatus,
)
from socialcrm.tenancy.models import User

M = TypeVar("M", bound=Base)

# Which id fields point at which tenant-scoped table: a reference must exist in the tenant.
REFERENCES: dict[str, type[Base]] = {
    "account_id": Account,
    "contact_id": Contact,
    "ticket_id": Ticket,
    "lead_id": Lead,
    "campaign_id": Campaign,
    "owner_id": User,
    "assignee_id": User,
}

MAX_LIMIT = 200

# A Contact's profile data: what an agent reads about the customer (identity's resolve answer
# shows when it last changed). Handles are not in it: the identity graph keeps them current.
PROFILE_FIELDS = frozenset(
    {
        "name",
        "emails",
        "phones",
        "company",
        "title",
        "website",
        "location",
        "tier",
        "preferred_channel",
        "language",
        "marketing_consent",
        "enrichment_consent",
    }
)


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Any]
    next_cursor: str | None


def contact_search_text(values: dict[str, Any]) -> str:
    """What a free-text search over Contacts looks at, lower-cased."""
    handles = [f"{h['network']}:{h['handle']}" for h in values.get("handles", [])]
    parts = [
        values.get("name", ""),
        values.get("company", ""),
        *values.get("emails", []),
        *phones.numbers(values.get("phones", [])),
        *handles,
    ]
    return " ".join(str(p) for p in parts if p).lower()


def search_needle(query: str) -> str:
    """What a Contact search looks for: ``@ada`` means the handle ``ada`` on any network
    (the search text holds ``network:handle``), anything else is a plain substring.

    A NUL is refused: no search text holds one, SQLite's FTS5 reads its query as a C string
    and PostgreSQL refuses it in text."""
    if "\x00" in query:
        raise ValidationFailed("a search must not contain a NUL character")
    needle = query.strip().lower()
    if needle.startswith("@") and len(needle) > 1:
        return ":" + needle[1:]
    return needle


def _typed_emails(contact: Contact) -> None:
    """Types only of the addresses the Contact still has."""
    emails = contact.emails or []
    contact.email_types = {k: v for k, v in (contact.email_types or {}).items() if k in emails}


def _check_references(session: Session, values: dict[str, Any]) -> None:
    for field, model in REFERENCES.items():
        ref = values.get(field)
        if ref is not None and session.get(model, ref) is None:
            raise ValidationFailed(
                f"{field} {ref} does not exist", details={"field": field, "value": ref}
            )


def get(session: Session, model: type[M], record_id: int) -> M:
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(f"{model.__name__.lower()} {record_id} not found")
    return record


def create(session: Session, model: type[M], values: dict[str, Any]) -> M:
    _check_references(session, values)
    if model is Contact:
        values = {**values, "phones": phones.normalise(values.get("phones", []))}
        values = {**values, "search_text": contact_search_text(values)}
    if model is Ticket and values.get("status", TicketStatus.OPEN) == TicketStatus.OPEN:
        values = {**values, "first_response_due_at": _first_response_due(session, values)}
    record = model(**values)
    if isinstance(record, Contact):
        _typed_emails(record)
    session.add(record)
    session.flush()
    return record


def _first_response_due(session: Session, values: dict[str, Any]) -> datetime:
    """When an open Ticket's first response is due: the tenant's terms for its Contact's own
    tier (a Ticket without a Contact is a guest's)."""
    contact = session.get(Contact, values["contact_id"]) if values.get("contact_id") else None
    tier = str(contact.tier) if contact is not None else None
    return terms.first_response_due(terms.support_terms(session, tier), utcnow())


def update(session: Session, model: type[M], record_id: int, changes: dict[str, Any]) -> M:
    record = get(session, model, record_id)
    _check_references(session, changes)
    if isinstance(record, Ticket) and changes.get("status") not in (None, TicketStatus.OPEN):
        # Handled (pending on the customer, or closed) counts as answered: the clock stops.
        record_first_response(session, record.id, utcnow())
    if isinstance(record, Contact) and "phones" in changes:
        changes = {**changes, "phones": phones.normalise(changes["phones"] or [])}
    if isinstance(record, Contact) and any(
        getattr(record, field) != value
        for field, value in changes.items()
        if field in PROFILE_FIELDS
    ):
        record.profile_updated_at = utcnow()
    for field, value in changes.items():
        setattr(record, field, value)
    if isinstance(record, Contact):
        _typed_emails(record)
        record.search_text = contact_search_text(
            {
                "name": record.name,
                "company": record.company,
                "emails": record.emails,
                "phones": record.phones,
                "handles": record.handles,
            }
        )
    session.flush()
    return record


def delete(session: Session, model: type[M], record_id: int) -> None:
    session.delete(get(session, model, record_id))
    session.flush()


def names(session: Session, model: type[Account] | type[Campaign]) -> list[tuple[int, str]]:
    """Ids and names of the tenant's Accounts or Campaigns, by name (a form's choices)."""
    rows = session.execute(select(model.id, model.name).order_by(model.name, model.id).limit(500))
    return [(int(i), str(n)) for i, n in rows]


def _contact_matches(session: Session, needle: str) -> ColumnElement[bool]:
    """Substring search on the contact's search text, through the trigram index.

    SQLite answers from its FTS5 trigram table (needles of 3+ characters); PostgreSQL's
    ``LIKE`` uses the pg_trgm GIN index by itself.
    """
    if session.get_bind().dialect.name == "sqlite" and len(needle) >= 3:
        phrase = '"' + needle.replace('"', '""') + '"'
        hits = text("SELECT rowid FROM contacts_search WHERE contacts_search MATCH :phrase")
        return Contact.id.in_(hits.bindparams(phrase=phrase).columns(rowid=Integer))
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Contact.search_text.like(f"%{escaped}%", escape="\\")


def list_page(
    session: Session,
    model: type[M],
    *,
    limit: int,
    cursor: str | None,
    query: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page:
    """Newest first, keyset-paginated on the primary key (stable under concurrent inserts);
    ``where`` narrows it (the filters of Leads and Tickets)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}")
    pk = model.__mapper__.primary_key[0]
    stmt = select(model).order_by(pk.desc()).limit(limit + 1)
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(pk < after)
    if where:
        stmt = stmt.where(*where)
    if query and model is Contact and search_needle(query):
        stmt = stmt.where(_contact_matches(session, search_needle(query)))
    rows = list(session.scalars(stmt))
    next_cursor = str(getattr(rows[limit - 1], str(pk.key))) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)


# --- timelines ----------------------------------------------------------------------------


def timeline(session: Session, record: Base, *, limit: int = 100) -> list[Activity]:
    """What happened with a record, newest first: a Contact's, Lead's (and its Contact's),
    Ticket's or Campaign's Activities, or those of an Account's Contacts."""
    if isinstance(record, Contact):
        where: ColumnElement[bool] = Activity.contact_id == record.id
    elif isinstance(record, Lead):
        where = Activity.lead_id == record.id
        if record.contact_id is not None:
            where = or_(where, Activity.contact_id == record.contact_id)
    elif isinstance(record, Ticket):
        where = Activity.ticket_id == record.id
    elif isinstance(record, Campaign):
        where = Activity.campaign_id == record.id
    elif isinstance(record, Account):
        where = Activity.contact_id.in_(select(Contact.id).where(Contact.account_id == record.id))
    else:
        raise TypeError(f"{type(record).__name__} has no timeline")
    when = func.coalesce(Activity.occurred_at, Activity.created_at)
    stmt = select(Activity).where(where).order_by(when.desc(), Activity.id.desc()).limit(limit)
    return list(session.scalars(stmt))


# --- a Ticket's first-response SLA -------------------------------------------------------


def record_first_response(session: Session, ticket_id: int, at: datetime) -> bool:
    """Stop the Ticket's first-response clock at ``at``. Only the first call counts: the
    conditional UPDATE leaves a recorded time alone, however many replies race."""
    stopped = session.scalars(
        sql_update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.first_responded_at.is_(None))
        .values(first_responded_at=at)
        .returning(Ticket.id)
        .execution_options(synchronize_session="fetch")
    ).first()
    if stopped is None:
        return False
    notify.resolve(session, notify.Subject("ticket", ticket_id))  # "first response overdue"
    return True


def _overdue(at: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Ticket.status == TicketStatus.OPEN,
        Ticket.first_response_due_at < at,
        Ticket.first_responded_at.is_(None),
        Ticket.sla_breached_at.is_(None),
    )


def overdue_tenant_ids(session: Session, at: datetime) -> list[int]:
    """Tenants with an open Ticket whose first response is overdue and not yet flagged
    (a system session: the periodic check fans out per tenant from here)."""
    rows = session.scalars(select(Ticket.tenant_id).where(*_overdue(at)).distinct())
    return sorted(int(t) for t in rows)


def overdue_ticket_ids(session: Session, at: datetime, *, limit: int = 500) -> list[int]:
    stmt = select(Ticket.id).where(*_overdue(at)).order_by(Ticket.first_response_due_at)
    return [int(i) for i in session.scalars(stmt.limit(limit))]


def flag_sla_breach(
    session: Session, ticket_id: int, *, at: datetime, queue: str | None = None
) -> Ticket | None:
    """Flag an overdue Ticket as breached, one priority step up (capped), in ``queue`` when
    given. Exactly once: the conditional UPDATE changes the row for the first caller only, so
    retries and concurrent checks get None."""
    bump = case(
        {p.value: sla.next_priority(p).value for p in Priority},
        value=Ticket.priority,
        else_=sla.next_priority("").value,
    )
    values: dict[str, Any] = {"sla_breached_at": at, "priority": bump}
    if queue:
        values["queue"] = queue
    return session.scalars(
        sql_update(Ticket)
        .where(Ticket.id == ticket_id, *_overdue(at))
        .values(**values)
        .returning(Ticket)
        .execution_options(synchronize_session="fetch")
    ).first()


def sla_markers(session: Session, ticket_ids: Sequence[int], at: datetime) -> dict[int, sla.Marker]:
    """The SLA marker of each of these Tickets that has a clock (for lists of Tickets)."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.first_response_due_at,
            Ticket.first_responded_at,
            Ticket.sla_breached_at,
        ).where(Ticket.id.in_(set(ticket_ids)))
    )
    markers = {
        int(ticket_id): sla.marker(due, responded, breached, at)
        for ticket_id, due, responded, breached in rows
    }
    return {i: m for i, m in markers.items() if m is not None}


RESOURCES: dict[str, type[Base]] = {
    "contacts": Contact,
    "accounts": Account,
    "leads": Lead,
    "tickets": Ticket,
    "activities": Activity,
    "campaigns": Campaign,
}
