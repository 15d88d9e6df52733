"""What the ORM's tenant scoping costs per statement, in process (issue 20).

For SQLite (a temporary file), then PostgreSQL when reachable (its own schema,
``socialcrm_bench_tenant_scope``, dropped afterwards), it migrates, seeds N contacts (2,000)
for tenant A and a few for tenant B, then times single operations on one open session (the
session's identity map emptied before each, so every read reaches the database):

- ``get``: ``session.get(Contact, id)``, random ids;
- ``select``: ``session.scalars(select(Contact).where(Contact.id == id)).one()``;
- ``3 columns``: ``session.execute(select(Contact.id, Contact.name, Contact.account_id)...)``,
  rows rather than models (what identity's resolve path reads);
- ``list 50``: the newest 50 contacts, ``select(Contact).order_by(id desc).limit(50)``;

each in a tenant session (the tenant criteria apply), in a system session (no criteria), and
as SQLAlchemy Core on the session's connection (the same row(s), tenant named by hand). The
kinds run interleaved in rounds so a shared machine's noise falls on all alike. It prints
wall-clock µs per operation (p50 and mean) and CPU µs per operation (process time, mean).

    .venv/bin/python bench/tenant_scope.py [--contacts 2000] [--ops 2000] [--rounds 5]
        [--only sqlite|postgresql]

Run it under ``flock /tmp/cpu.lock`` on the shared machine. To compare with another version
of the code in the same minute, put that version's ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, make_engine, utcnow
from socialcrm.crm.models import Contact
from socialcrm.migrations import upgrade
from socialcrm.tenancy.models import Tenant

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "socialcrm_bench_tenant_scope"
CONTACTS = Contact.__table__


def seed(db: Database, count: int) -> tuple[int, list[int]]:
    with db.session(system=True) as session:
        tenant_a, tenant_b = Tenant(name="Bench A"), Tenant(name="Bench B")
        session.add_all([tenant_a, tenant_b])
        session.flush()
        a, b = tenant_a.id, tenant_b.id
    now = utcnow()
    rows = [
        {
            "tenant_id": a if i % 10 else b,
            "name": f"Ada Lovelace {i}",
            "emails": [f"p{i}@example.com"],
            "phones": [],
            "email_types": {},
            "handles": [{"network": "x", "handle": f"p{i}"}],
            "company": f"Company {i}",
            "search_text": f"ada lovelace {i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count + count // 9)
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(Contact), rows)
        ids = conn.execute(select(CONTACTS.c.id).where(CONTACTS.c.tenant_id == a)).scalars()
        return a, list(ids)


def operations(tenant_id: int, ids: list[int]) -> dict[str, tuple[str, Callable[..., Any]]]:
    """name -> (session kind, operation(session, id))."""

    def get(session: Session, record_id: int) -> Any:
        contact = session.get(Contact, record_id)
        assert contact is not None
        assert contact.tenant_id == tenant_id
        return contact

    def orm_select(session: Session, record_id: int) -> Any:
        return session.scalars(select(Contact).where(Contact.id == record_id)).one()

    def core_select(session: Session, record_id: int) -> Any:
        stmt = select(CONTACTS).where(CONTACTS.c.id == record_id, CONTACTS.c.tenant_id == tenant_id)
        return session.connection().execute(stmt).one()

    def orm_columns(session: Session, record_id: int) -> Any:
        stmt = select(Contact.id, Contact.name, Contact.account_id).where(Contact.id == record_id)
        return session.execute(stmt).one()

    def core_columns(session: Session, record_id: int) -> Any:
        stmt = select(CONTACTS.c.id, CONTACTS.c.name, CONTACTS.c.account_id).where(
            CONTACTS.c.id == record_id, CONTACTS.c.tenant_id == tenant_id
        )
        return session.connection().execute(stmt).one()

    def orm_list(session: Session, _record_id: int) -> Any:
        stmt = select(Contact).order_by(Contact.id.desc()).limit(50)
        rows = session.scalars(stmt).all()
        assert len(rows) == 50
        return rows

    def core_list(session: Session, _record_id: int) -> Any:
        stmt = (
            select(CONTACTS)
            .where(CONTACTS.c.tenant_id == tenant_id)
            .order_by(CONTACTS.c.id.desc())
            .limit(50)
        )
        rows = session.connection().execute(stmt).all()
        assert len(rows) == 50
        return rows

    return {
        "ORM get, tenant session": ("tenant", get),
        "ORM get, system session": ("system", get),
        "ORM select, tenant session": ("tenant", orm_select),
        "ORM select, system session": ("system", orm_select),
        "Core select, same row": ("tenant", core_select),
        "ORM 3 columns, tenant session": ("tenant", orm_columns),
        "ORM 3 columns, system session": ("system", orm_columns),
        "Core 3 columns": ("tenant", core_columns),
        "ORM list 50, tenant session": ("tenant", orm_list),
        "ORM list 50, system session": ("system", orm_list),
        "Core list 50": ("tenant", core_list),
    }


def measure(db: Database, tenant_id: int, ids: list[int], args: argparse.Namespace) -> None:
    ops = operations(tenant_id, ids)
    wall: dict[str, list[float]] = {name: [] for name in ops}
    cpu: dict[str, list[float]] = {name: [] for name in ops}
    rng = random.Random(7)
    for round_no in range(args.rounds + 1):  # round 0 warms caches up and is not counted
        for name, (kind, op) in ops.items():
            scope: dict[str, Any] = (
                {"tenant_id": tenant_id} if kind == "tenant" else {"system": True}
            )
            sample = [rng.choice(ids) for _ in range(args.ops if round_no else 200)]
            with db.session(**scope) as session:
                session.connection()  # begin before timing
                c0 = time.process_time()
                times = []
                for record_id in sample:
                    session.expunge_all()
                    t0 = time.perf_counter()
                    op(session, record_id)
                    times.append(time.perf_counter() - t0)
                c1 = time.process_time()
            if round_no:
                wall[name].extend(times)
                cpu[name].append((c1 - c0) / len(sample))
    print(f"  {'µs per operation':34} {'p50':>8} {'mean':>8} {'CPU mean':>9}")
    for name in ops:
        p50 = statistics.median(wall[name]) * 1e6
        mean = statistics.fmean(wall[name]) * 1e6
        cpu_mean = statistics.fmean(cpu[name]) * 1e6
        print(f"  {name:34} {p50:8.0f} {mean:8.0f} {cpu_mean:9.0f}")


def run(label: str, engine: Engine, url: str, args: argparse.Namespace) -> None:
    upgrade(url)
    db = Database(engine)
    tenant_id, ids = seed(db, args.contacts)
    print(f"\n[{label}] {len(ids):,} contacts of one tenant, {args.ops} ops x {args.rounds} rounds")
    measure(db, tenant_id, ids, args)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            run("sqlite", make_engine(url), url, args)
    if args.only != "sqlite":
        admin = make_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        except Exception as exc:
            print(f"\n[postgresql] skipped, not reachable: {exc}")
            return
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{PG_SCHEMA}"
        try:
            run("postgresql", make_engine(url), url, args)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
