"""Screen pops: the Contact card an agent's desktop asks for, by email, phone or handle.

Seeds N Contacts (each with an email, a phone and an X handle; every 10th one linked to an X
profile with a snapshot), then measures ``GET /api/screen-pop`` latency on SQLite and, when
reachable, on PostgreSQL:

  1. in-process: the service call and the response model, one unit of work per call;
  2. over HTTP on loopback: one agent desktop at a time (sequential keep-alive requests) against
     ``socialcrm serve`` in a subprocess, which is how a desktop asks. Goal: p99 <= 10 ms.

    .venv/bin/python bench/screen_pop.py [--contacts 100000] [--lookups 2000] [--only sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
from serving import free_port, rss_mb, start_server
from sqlalchemy import insert, select

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_SCHEMA = "socialcrm_bench_screen_pop"
BATCH = 5_000


def seed(url: str, count: int) -> tuple[str, int]:
    """Contacts, their screen-pop keys, links and snapshots, in bulk; returns (API key, tenant)."""
    from socialcrm.core.db import Database, make_engine, utcnow
    from socialcrm.crm.models import Contact
    from socialcrm.crm.service import contact_search_text
    from socialcrm.enrichment.keys import contact_keys
    from socialcrm.enrichment.models import (
        ContactKey,
        LinkSource,
        LinkStatus,
        SocialProfileLink,
        SocialProfileSnapshot,
    )
    from socialcrm.migrations import upgrade
    from socialcrm.tenancy.service import create_api_key, get_or_create_tenant

    upgrade(url)
    db = Database(make_engine(url))
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Screen pops")
        key = create_api_key(session, tenant=tenant)[1]
        tenant_id = tenant.id
    now = utcnow()
    with db.engine.begin() as conn:
        for start in range(0, count, BATCH):
            people = []
            for i in range(start, min(count, start + BATCH)):
                values: dict[str, Any] = {
                    "name": f"Agent Caller {i}",
                    "emails": [f"caller{i}@example.com"],
                    "phones": [f"+44 20 7{i:07d}"],
                    "company": f"Company {i % 5000}",
                    "handles": [{"network": "x", "handle": f"caller{i}"}],
                }
                values["search_text"] = contact_search_text(values)
                people.append(
                    values | {"tenant_id": tenant_id, "created_at": now, "updated_at": now}
                )
            ids = list(
                conn.scalars(
                    insert(Contact).returning(Contact.id, sort_by_parameter_order=True), people
                )
            )
            keys, links, snaps = [], [], []
            for offset, (contact_id, values) in enumerate(zip(ids, people, strict=True)):
                for kind, value in sorted(
                    contact_keys(values["emails"], values["phones"], values["handles"])
                ):
                    keys.append(
                        {
                            "tenant_id": tenant_id,
                            "contact_id": contact_id,
                            "kind": kind,
                            "value": value,
                        }
                    )
                if (start + offset) % 10 == 0:
                    handle = values["handles"][0]["handle"]
                    profile = {"provider": "x", "external_user_id": f"9{contact_id}"}
                    links.append(
                        profile
                        | {
                            "tenant_id": tenant_id,
                            "contact_id": contact_id,
                            "handle": handle,
                            "handle_key": handle,
                            "status": LinkStatus.LINKED,
                            "source": LinkSource.AUTO,
                            "confidence": 0.95,
                            "signals": {"handle_match": 1.0},
                        }
                    )
                    snaps.append(
                        profile
                        | {
                            "tenant_id": tenant_id,
                            "handle": handle,
                            "handle_key": handle,
                            "display_name": values["name"],
                            "headline": "Buyer at " + values["company"],
                            "avatar_url": f"https://pbs.example/{handle}.jpg",
                            "followers": contact_id % 50_000,
                            "links": [],
                            "fetched_at": now,
                        }
                    )
            conn.execute(insert(ContactKey), keys)
            if links:
                conn.execute(insert(SocialProfileLink), links)
                conn.execute(insert(SocialProfileSnapshot), snaps)
        assert conn.scalar(select(Contact.id).limit(1)) is not None
    db.engine.dispose()
    return key, tenant_id


def queries(count: int, lookups: int) -> list[dict[str, str]]:
    rnd = random.Random(7)
    out = []
    for n in range(lookups):
        i = rnd.randrange(count // 10) * 10  # a linked Contact: the card carries its profile
        out.append(
            [
                {"email": f"Caller{i}@Example.com"},
                {"phone": f"+44 20 7{i:07d}"},
                {"handle": f"@caller{i}"},
            ][n % 3]
        )
    return out


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def timed(calls: list[Callable[[], Any]]) -> list[float]:
    for call in calls[:50]:  # warm-up
        call()
    out = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def in_process(url: str, tenant_id: int, asks: list[dict[str, str]]) -> list[float]:
    from socialcrm.core.db import Database, make_engine
    from socialcrm.enrichment import links, views

    db = Database(make_engine(url))

    def one(ask: dict[str, str]) -> None:
        with db.session(tenant_id=tenant_id) as session:
            view = links.screen_pop(
                session, email=ask.get("email"), phone=ask.get("phone"), handle=ask.get("handle")
            )
            assert view is not None, ask
            assert view.links, ask
            views.screen_pop_out(view)

    try:
        return timed([lambda a=a: one(a) for a in asks])
    finally:
        db.engine.dispose()


def over_http(
    env: dict[str, str], key: str, asks: list[dict[str, str]]
) -> tuple[list[float], float]:
    port = free_port()
    proc = start_server(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:

            def one(ask: dict[str, str]) -> None:
                response = client.get("/api/screen-pop", params=ask)
                assert response.status_code == 200, response.text
                assert response.json()["networks"], response.text

            latencies = timed([lambda a=a: one(a) for a in asks])
        rss = rss_mb(proc.pid)
        return latencies, rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def report(label: str, values: list[float]) -> None:
    print(
        f"  {label:<34} p50 {pct(values, 50):7.3f} ms   p95 {pct(values, 95):7.3f} ms"
        f"   p99 {pct(values, 99):7.3f} ms"
    )


def run(label: str, url: str, env: dict[str, str], args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    key, tenant_id = seed(url, args.contacts)
    print(f"\n[{label}] seeded {args.contacts:,} contacts in {time.perf_counter() - t0:.0f} s")
    asks = queries(args.contacts, args.lookups)
    report("in-process (service + response)", in_process(url, tenant_id, asks))
    latencies, rss = over_http(env, key, asks)
    report("HTTP, one desktop, keep-alive", latencies)
    verdict = "met" if pct(latencies, 99) <= 10 else "NOT met"
    print(f"  goal p99 <= 10 ms over HTTP: {verdict}; server peak RSS {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    print(
        f"bench/screen_pop.py: {args.contacts:,} contacts, {args.lookups:,} lookups "
        "(email, phone, handle in turn), every 10th contact linked to a profile"
    )
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="bench-screen-pop-") as data_dir:
            url = f"sqlite:///{data_dir}/socialcrm.db"
            env = os.environ | {"SOCIALCRM_DATA_DIR": data_dir, "SOCIALCRM_DATABASE_URL": url}
            run("sqlite", url, env, args)
    if args.only in (None, "postgresql"):
        import psycopg

        try:
            with psycopg.connect(PG_URL, connect_timeout=3, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
                conn.execute(f"CREATE SCHEMA {BENCH_SCHEMA}")
        except psycopg.OperationalError as exc:
            print(f"\n[postgresql] skipped: {exc}")
            return
        url = f"{PG_URL}?options=-csearch_path%3D{BENCH_SCHEMA}"
        try:
            with tempfile.TemporaryDirectory(prefix="bench-screen-pop-") as data_dir:
                env = os.environ | {"SOCIALCRM_DATA_DIR": data_dir, "SOCIALCRM_DATABASE_URL": url}
                run("postgresql", url, env, args)
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
    print(
        f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
