"""Benchmark of publishing and campaign attribution.

    .venv/bin/python bench/publishing.py [--db sqlite|postgresql://…] [--pairs 10000]
        [--accounts 100] [--workers 4] [--rows 1000000] [--skip-publish] [--skip-attribution]

1. Drain: ``--pairs`` (post, account) targets due in the same minute across ``--accounts`` brand
   X accounts (connected through the sandbox's real OAuth flow), drained by ``--workers``
   worker processes racing on the same rows (each walks the whole due list). Checks that every
   pair is on the network exactly once and prints the time to drain and pairs/s.
2. Attribution: ``--rows`` engagement rows and as many listening mentions (when the listening
   module is installed) over 50 campaigns and a year of days; p50/p95/p99 of the attribution
   query for random campaigns (the goal is p95 ≤ 200 ms on PostgreSQL).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = 50
PG_SCHEMA = "bench_publishing"


def log(message: str) -> None:
    print(message, flush=True)


def database_url(arg: str, tmp: str) -> str:
    if arg == "sqlite":
        return f"sqlite:///{tmp}/bench-publishing.db"
    from sqlalchemy import text

    from socialcrm.core.db import make_engine

    admin = make_engine(arg)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    admin.dispose()
    sep = "&" if "?" in arg else "?"
    return f"{arg}{sep}options=-csearch_path%3D{PG_SCHEMA}"


def world(accounts: int) -> dict[str, Any]:
    return {
        "apps": [
            {
                "network": "x",
                "client_id": "bench-x",
                "client_secret": "bench-x-secret",
                "redirect_uris": ["http://bench.invalid/oauth/callback/x"],
            }
        ],
        "people": [
            {
                "name": f"Brand {i}",
                "emails": [],
                "accounts": [
                    {
                        "network": "x",
                        "user_id": str(50_000 + i),
                        "handle": f"brand{i}",
                        "display_name": f"Brand {i}",
                        "created_at": "2020-01-01T00:00:00Z",
                    }
                ],
            }
            for i in range(accounts)
        ],
    }


def connect_accounts(db: Any, tenant_id: int, accounts: int) -> list[int]:
    from socialcrm.connections import connecting
    from socialcrm.connections.models import Ownership, ProviderApp
    from socialcrm.core.principal import Principal, Role

    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    with db.session(tenant_id=tenant_id) as session:
        session.add(ProviderApp(provider="x", client_id="bench-x", client_secret="bench-x-secret"))
    ids = []
    with httpx.Client(timeout=30) as http:
        for i in range(accounts):
            with db.session(tenant_id=tenant_id) as session:
                start = connecting.start_oauth(
                    session, principal, provider="x", ownership=Ownership.BRAND
                )
            parts = urlsplit(start.authorization_url)
            form = {k: v[0] for k, v in parse_qs(parts.query).items()}
            form |= {"account": f"brand{i}", "decision": "allow"}
            answer = http.post(f"{parts.scheme}://{parts.netloc}{parts.path}", data=form)
            back = {
                k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()
            }
            account = connecting.complete_oauth(db, provider="x", params=back)
            ids.append(account.id)
    return ids


def compose_due(db: Any, tenant_id: int, account_ids: list[int], pairs: int) -> int:
    from sqlalchemy import update

    from socialcrm.core.db import utcnow
    from socialcrm.core.principal import Principal, Role
    from socialcrm.publishing import compose
    from socialcrm.publishing.models import PostTarget

    principal = Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=None, api_key_id=0)
    per_post = len(account_ids)
    posts = max(1, pairs // per_post)
    local = (utcnow() + timedelta(minutes=30)).replace(tzinfo=None)
    for n in range(posts):
        with db.session(tenant_id=tenant_id) as session:
            compose.compose(
                session,
                principal,
                compose.Composition(
                    text=f"Bench post {n}",
                    targets=[compose.TargetSpec(a, f"Bench {n} from {a}") for a in account_ids],
                    action="schedule",
                    local_time=local,
                    time_zone="UTC",
                    track_links=False,
                ),
            )
    due = utcnow().replace(second=0, microsecond=0)  # all due in the same minute
    with db.session(tenant_id=tenant_id) as session:
        session.execute(
            update(PostTarget).values(due_at=due).execution_options(synchronize_session=False)
        )
    return posts * per_post


def worker(url: str, sandbox_url: str, number: int, results: Any) -> None:
    from socialcrm.core.db import Database, make_engine, set_database, utcnow
    from socialcrm.core.settings import get_settings
    from socialcrm.publishing import sending

    get_settings().sandbox_url = sandbox_url
    db = Database(make_engine(url))
    set_database(db)
    outcomes: Counter[str] = Counter()
    name = f"bench-worker-{number}"
    while True:
        due = sending.due_targets(db, utcnow(), limit=400)
        if not due:
            break
        random.shuffle(due)  # workers race for the same rows, in different orders
        for tenant_id, target_id in due:
            outcomes[sending.publish_target(db, tenant_id, target_id, worker=name)] += 1
    results.put(dict(outcomes))


def bench_publish(url: str, args: argparse.Namespace) -> None:
    from sqlalchemy import func, select

    from socialcrm.core.db import Database, make_engine, set_database
    from socialcrm.core.settings import get_settings
    from socialcrm.publishing.models import PostTarget
    from socialcrm.tenancy.service import get_or_create_tenant
    from socialcrm_sandbox.testing import start_sandbox

    tmp_world = Path(tempfile.mkdtemp()) / "world.json"
    import json

    tmp_world.write_text(json.dumps(world(args.accounts)))
    sandbox = start_sandbox(tmp_world)
    settings = get_settings()
    settings.sandbox_url = sandbox.url
    settings.base_url = "http://bench.invalid"
    db = Database(make_engine(url))
    set_database(db)
    with db.session(system=True) as session:
        tenant_id = get_or_create_tenant(session, f"Bench {uuid.uuid4().hex[:6]}").id
    t0 = time.perf_counter()
    account_ids = connect_accounts(db, tenant_id, args.accounts)
    log(f"connected {len(account_ids)} brand accounts in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    pairs = compose_due(db, tenant_id, account_ids, args.pairs)
    log(
        f"composed {pairs} (post, account) pairs due in one minute in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    results: Any = mp.get_context("fork").Queue()
    procs = [
        mp.get_context("fork").Process(target=worker, args=(url, sandbox.url, n, results))
        for n in range(args.workers)
    ]
    t0 = time.perf_counter()
    for proc in procs:
        proc.start()
    outcomes: Counter[str] = Counter()
    for _ in procs:
        outcomes.update(results.get())
    for proc in procs:
        proc.join()
    drain = time.perf_counter() - t0

    on_network = sandbox.control.get("/posts", params={"network": "x"}).json()
    texts = Counter(p["text"] for p in on_network)
    with db.session(tenant_id=tenant_id) as session:
        statuses = dict(
            session.execute(
                select(PostTarget.status, func.count()).group_by(PostTarget.status)
            ).all()
        )
        attempts = Counter(session.scalars(select(PostTarget.attempts)))
    exactly_once = (
        len(on_network) == pairs
        and set(texts.values()) == {1}
        and statuses == {"published": pairs}
        and attempts == Counter({1: pairs})
    )
    log("")
    log(f"drain: {pairs} pairs, {args.accounts} brand accounts, {args.workers} worker processes")
    log(f"  time to drain       {drain:.1f} s  ({pairs / drain:.0f} pairs/s)")
    log(f"  worker outcomes     {dict(outcomes)}")
    log(f"  target statuses     {statuses}")
    log(f"  posts on network    {len(on_network)} (max copies of one text: {max(texts.values())})")
    log(f"  exactly once        {'YES' if exactly_once else 'NO'}")
    sandbox.stop()
    db.engine.dispose()


def seed_rows(db: Any, tenant_id: int, rows: int) -> list[int]:
    from sqlalchemy import insert

    from socialcrm.crm.models import Campaign
    from socialcrm.publishing import listening_source
    from socialcrm.publishing.models import EngagementDaily

    with db.session(tenant_id=tenant_id) as session:
        campaigns = [Campaign(name=f"Campaign {i}") for i in range(CAMPAIGNS)]
        session.add_all(campaigns)
        session.flush()
        ids = [c.id for c in campaigns]
    rnd = random.Random(7)
    first_day = date(2025, 1, 1)
    chunk = 20_000
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        for start in range(0, rows, chunk):
            conn.execute(
                insert(EngagementDaily),
                [
                    {
                        "tenant_id": tenant_id,
                        "target_id": None,
                        "campaign_id": ids[n % CAMPAIGNS],
                        "day": first_day + timedelta(days=rnd.randrange(365)),
                        "likes": rnd.randrange(50),
                        "comments": rnd.randrange(10),
                        "shares": rnd.randrange(5),
                        "impressions": rnd.randrange(2000),
                        "clicks": rnd.randrange(20),
                    }
                    for n in range(start, min(rows, start + chunk))
                ],
            )
    log(f"seeded {rows} engagement rows in {time.perf_counter() - t0:.1f} s")
    mention = listening_source.SocialMention
    if mention is None:
        log("listening is not installed: no mentions seeded")
        return ids
    labels = ("positive", "neutral", "negative")
    t0 = time.perf_counter()
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        for start in range(0, rows, chunk):
            conn.execute(
                insert(mention),
                [
                    {
                        "tenant_id": tenant_id,
                        "network": "x",
                        "external_id": f"m{n}",
                        "kind": "lead_form" if n % 97 == 0 else "mention",
                        "campaign_id": ids[n % CAMPAIGNS],
                        "sentiment_label": labels[n % 3],
                        "posted_at": base + timedelta(minutes=rnd.randrange(525_600)),
                        "ingested_at": base,
                        "text": "",
                        "metrics": {},
                        "details": {},
                        "rule_ids": [],
                    }
                    for n in range(start, min(rows, start + chunk))
                ],
            )
    log(f"seeded {rows} listening mentions in {time.perf_counter() - t0:.1f} s")
    return ids


def bench_attribution(url: str, args: argparse.Namespace) -> None:
    from socialcrm.core.db import Database, make_engine
    from socialcrm.tenancy.service import get_or_create_tenant

    db = Database(make_engine(url))
    with db.session(system=True) as session:
        tenant_id = get_or_create_tenant(session, f"Attribution {uuid.uuid4().hex[:6]}").id
    ids = seed_rows(db, tenant_id, args.rows)
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does in production: statistics and the visibility map.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE pub_engagement_daily")
            conn.exec_driver_sql("VACUUM ANALYZE")
    timings, result = measure(db, tenant_id, ids, args.queries)
    report_latency(db, args, timings, result, "as shipped")
    db.engine.dispose()


def measure(db: Any, tenant_id: int, ids: list[int], queries: int) -> tuple[list[float], Any]:
    from socialcrm.publishing import attribution

    rnd = random.Random(11)
    timings = []
    result = None
    for n in range(queries + 10):
        campaign_id = rnd.choice(ids)
        t0 = time.perf_counter()
        with db.session(tenant_id=tenant_id) as session:
            result = attribution.campaign_attribution(session, campaign_id)
        if n >= 10:  # warm-up excluded
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return timings, result


def report_latency(
    db: Any, args: argparse.Namespace, timings: list[float], result: Any, label: str
) -> None:

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(p * len(timings)))]

    mentions_seeded = args.rows if result.mentions["available"] else 0
    log("")
    log(
        f"attribution: {args.rows} engagement rows + {mentions_seeded} listening"
        f" mentions over {CAMPAIGNS} campaigns, {len(timings)} queries ({db.engine.dialect.name},"
        f" {label})"
    )
    log(f"  one campaign's days {len(result.series)}, mentions {result.mentions['total']}")
    log(
        f"  latency ms          p50 {pct(0.5):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}"
        f"  mean {statistics.fmean(timings):.1f}"
    )
    log(f"  goal p95 <= 200 ms  {'met' if pct(0.95) <= 200 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-publish", action="store_true")
    parser.add_argument("--skip-attribution", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SOCIALCRM_DATA_DIR", tempfile.mkdtemp(prefix="bench-publishing-"))
    sys.path.insert(0, str(ROOT / "src"))
    from socialcrm.core.logging import configure_logging
    from socialcrm.migrations import upgrade

    configure_logging("json")
    import logging

    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="bench-publishing-db-")
    url = database_url(args.db, tmp)
    upgrade(url)
    log(f"database: {args.db if args.db == 'sqlite' else 'postgresql'}")
    if not args.skip_publish:
        bench_publish(url, args)
    if not args.skip_attribution:
        bench_attribution(url, args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"\npeak memory (bench process) {peak:.0f} MB")


if __name__ == "__main__":
    main()
