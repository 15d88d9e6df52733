"""Use cases of the audit log: a page of entries, all entries as CSV rows."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from defusedcsv import csv
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from socialcrm.audit.filters import AuditFilter
from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database
from socialcrm.core.numbers import is_ascii_number
from socialcrm.tenancy.models import ApiKey, User

MAX_LIMIT: Final = 500
CSV_COLUMNS: Final = (
    "id",
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "details",
)
_CSV_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: Sequence[AuditLog]
    next_cursor: str | None


def _query(where: AuditFilter, after: int | None) -> Select[AuditLog]:
    """Newest first; the session's tenant scope adds the tenant filter."""
    query = select(AuditLog).order_by(AuditLog.id.desc())
    if after is not None:
        query = query.where(AuditLog.id < after)
    if where.actor is not None:
        query = query.where(AuditLog.actor == where.actor)
    if where.action is not None:
        if where.action.endswith("*"):
            prefix = where.action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditLog.action.like(f"{escaped}%", escape="\\"))
        else:
            query = query.where(AuditLog.action == where.action)
    if where.target_type is not None:
        query = query.where(AuditLog.target_type == where.target_type)
    if where.target_id is not None:
        query = query.where(AuditLog.target_id == where.target_id)
    if where.since is not None:
        query = query.where(AuditLog.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditLog.created_at < where.until)
    return query


def list_page(
    session: Session, where: AuditFilter, *, limit: int = 50, after: int | None = None
) -> AuditPage:
    rows = list(session.scalars(_query(where, after).limit(limit + 1)))
    more = len(rows) > limit
    items = rows[:limit]
    return AuditPage(items=items, next_cursor=str(items[-1].id) if more else None)


def _row(entry: AuditLog) -> list[str]:
    cells = [
        str(entry.id),
        entry.created_at.isoformat(),
        entry.actor,
        entry.action,
        entry.target_type,
        entry.target_id,
        json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
    ]
    # defusedcsv neutralises = + - @ | % at the start of a cell; OWASP adds tab and CR.
    return ["'" + cell if cell[:1] in ("\t", "\r") else cell for cell in cells]


def csv_lines(
    database: Database, tenant_id: int, where: AuditFilter, after: int | None = None
) -> Iterator[str]:
    """Every matching entry as CSV text, a batch per short read-only unit of work (so a long
    download holds no transaction open)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    while True:
        with database.session(tenant_id=tenant_id) as session:
            batch = list(session.scalars(_query(where, after).limit(_CSV_BATCH)))
            for entry in batch:
                writer.writerow(_row(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < _CSV_BATCH:
            return
        after = batch[-1].id


def known_actions(session: Session, *, limit: int = 300) -> list[str]:
    """The actions the tenant's log holds (to suggest in a filter)."""
    stmt = select(AuditLog.action).distinct().order_by(AuditLog.action).limit(limit)
    return list(session.scalars(stmt))


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """A readable name per actor: ``user:3`` is the user's email, ``api_key:7`` the key's name
    (the session's tenant scope: another tenant's user stays a bare id)."""
    ids: dict[str, set[int]] = {"user": set(), "api_key": set()}
    for actor in actors:
        kind, _, number = actor.partition(":")
        if kind in ids and is_ascii_number(number) and len(number) < 12:
            ids[kind].add(int(number))
    names: dict[str, str] = {}
    if ids["user"]:
        for user in session.scalars(select(User).where(User.id.in_(ids["user"]))):
            names[f"user:{user.id}"] = user.name or user.email
    if ids["api_key"]:
        for key in session.scalars(select(ApiKey).where(ApiKey.id.in_(ids["api_key"]))):
            names[f"api_key:{key.id}"] = f"API key {key.name or key.id}"
    return names
