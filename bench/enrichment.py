"""Enrichment run over N contacts against the sandbox with a per-token request budget.

Everything runs as it does in production, in separate processes: the sandbox
(`socialcrm sandbox`), one queue worker (`socialcrm worker`, SQLite queue) and the run started
with `socialcrm enrich run`. The tenant is connected to X (lookup by handle); each Contact
lists an X handle, a share of which exist in the sandbox world. The sandbox grants
`--budget` lookups per `--window` seconds per token. Prints contacts/s, the share of the
allowed budget used, 429s received, the worker's peak memory (VmHWM), and, with `--kill`,
the kill -9 resume check: the worker is killed half-way, a new one finishes the run, and
every Contact must have exactly its expected link.

    .venv/bin/python bench/enrichment.py [--contacts 100000] [--people 2000]
        [--budget 3000] [--window 10] [--kill] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, insert, select, text

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_SCHEMA = "socialcrm_bench_enrichment"
BIN = Path(sys.executable).with_name("socialcrm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def world(people: int) -> dict[str, Any]:
    return {
        "apps": [
            {
                "network": "x",
                "client_id": "bench-x",
                "client_secret": "bench-secret",
                "redirect_uris": ["http://testserver/oauth/callback/x"],
            }
        ],
        "people": [
            {
                "name": f"Bench Person {i}",
                "accounts": [
                    {
                        "network": "x",
                        "user_id": str(10_000 + i),
                        "handle": f"b{i}",
                        "display_name": f"Bench Person {i}",
                        "followers": i * 7,
                    }
                ],
            }
            for i in range(people)
        ],
    }


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def database_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.db"
    from socialcrm.core.db import make_engine

    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{BENCH_SCHEMA}"


def connect_x(base_env: dict[str, str], sandbox_url: str) -> None:
    """Connect X for the tenant the way a person does (OAuth + consent), in this process."""
    from fastapi.testclient import TestClient

    from socialcrm.app import create_app
    from socialcrm.core.db import get_database
    from socialcrm.tenancy.service import create_api_key, get_or_create_tenant

    with get_database().session(system=True) as session:
        tenant = get_or_create_tenant(session, "Bench")
        _, key = create_api_key(session, tenant=tenant)
    with TestClient(create_app()) as api:
        api.headers["Authorization"] = f"Bearer {key}"
        api.put(
            "/api/provider-apps/x", json={"client_id": "bench-x", "client_secret": "bench-secret"}
        ).raise_for_status()
        start = api.post("/api/connections", json={"provider": "x", "scope": "brand"})
        start.raise_for_status()
        parts = urlsplit(start.json()["authorization_url"])
        form = {k: v[0] for k, v in parse_qs(parts.query).items()}
        form |= {"account": "b0", "decision": "allow"}
        consent = httpx.post(f"{sandbox_url}{parts.path}", data=form)
        back = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
        done = api.get(
            "/oauth/callback/x",
            params=back,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text


def seed_contacts(count: int, people: int, every: int) -> int:
    """Bulk insert (no per-Contact trigger); every ``every``-th Contact exists in the world."""
    from socialcrm.core.db import get_database, utcnow
    from socialcrm.crm.models import Contact
    from socialcrm.tenancy.models import Tenant

    db = get_database()
    with db.session(system=True) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == "Bench"))
    now = utcnow()
    expected = 0
    batch: list[dict[str, Any]] = []
    with db.engine.begin() as conn:
        for i in range(count):
            real = i % every == 0 and (i // every) < people
            expected += real
            handle = f"b{i // every}" if real else f"nobody{i}"
            batch.append(
                {
                    "tenant_id": tenant_id,
                    "name": f"Bench Person {i // every}" if real else f"Unknown {i}",
                    "emails": [],
                    "phones": [],
                    "handles": [{"network": "x", "handle": handle}],
                    "search_text": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(Contact), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Contact), batch)
    return expected


def run_state() -> dict[str, Any]:
    from socialcrm.core.db import get_database
    from socialcrm.enrichment.models import EnrichmentRun

    with get_database().session(system=True) as session:
        run = session.scalars(select(EnrichmentRun).order_by(EnrichmentRun.id.desc())).first()
        if run is None:
            return {"status": "none", "processed": 0}
        return {
            c: getattr(run, c)
            for c in (
                "status",
                "processed",
                "linked",
                "calls",
                "rate_limited",
                "transient_errors",
                "total",
            )
        }


def link_check(expected: int) -> tuple[int, int, int]:
    """(contacts with a link, duplicate links, contacts without a processed outcome)."""
    from socialcrm.core.db import get_database
    from socialcrm.enrichment.models import SocialProfileLink

    with get_database().session(system=True) as session:
        rows = session.execute(
            select(SocialProfileLink.contact_id, func.count()).group_by(
                SocialProfileLink.contact_id
            )
        ).all()
    linked = len(rows)
    duplicates = sum(n - 1 for _, n in rows)
    return linked, duplicates, expected - linked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--budget", type=int, default=3_000, help="lookups per window per token")
    parser.add_argument("--window", type=int, default=10, help="budget window, seconds")
    parser.add_argument("--kill", action="store_true", help="kill -9 the worker half-way")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="socialcrm-bench-enrich-"))
    url = database_url(args.database, tmp)
    world_file = tmp / "world.json"
    world_file.write_text(json.dumps(world(args.people)))
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "SOCIALCRM_DATA_DIR": str(tmp),
        "SOCIALCRM_DATABASE_URL": url,
        "SOCIALCRM_QUEUE_URL": f"sqlite:///{tmp}/queue.db",
        "SOCIALCRM_SANDBOX_URL": sandbox_url,
        "SOCIALCRM_BASE_URL": "http://testserver",
        "SOCIALCRM_LOG_FORMAT": "json",
        "SOCIALCRM_ENRICHMENT_LEASE_S": "5",
        "SOCIALCRM_ENRICHMENT_BATCH_SIZE": "100",
    }
    os.environ.update(env)
    logs = (tmp / "processes.log").open("w")
    sandbox = subprocess.Popen(
        [str(BIN), "sandbox", "--port", str(port), "--world", str(world_file)],
        env=env,
        stdout=logs,
        stderr=logs,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{sandbox_url}/_sandbox/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        from socialcrm.migrations import upgrade

        upgrade(url)
        connect_x(env, sandbox_url)
        every = max(1, args.contacts // max(args.people, 1))
        expected = seed_contacts(args.contacts, args.people, every)
        httpx.post(
            f"{sandbox_url}/_sandbox/budget",
            json={
                "network": "x",
                "limit": args.budget,
                "window_s": args.window,
                "endpoint": "lookup_handle",
            },
        ).raise_for_status()
        subprocess.run(
            [str(BIN), "enrich", "run", "--tenant", "Bench"], env=env, check=True, stdout=logs
        )
        started = time.monotonic()
        worker = subprocess.Popen(
            [str(BIN), "worker", "--workers", "1"], env=env, stdout=logs, stderr=logs
        )
        workers.append(worker)
        peak = 0.0
        killed_at = None
        while True:
            time.sleep(0.5)
            state = run_state()
            peak = max(peak, peak_rss_mb(workers[-1].pid))
            if args.kill and killed_at is None and state["processed"] >= args.contacts // 2:
                os.kill(workers[-1].pid, signal.SIGKILL)
                workers[-1].wait()
                killed_at = state["processed"]
                workers.append(
                    subprocess.Popen(
                        [str(BIN), "worker", "--workers", "1"], env=env, stdout=logs, stderr=logs
                    )
                )
            if state["status"] in ("completed", "failed"):
                break
        elapsed = time.monotonic() - started
        calls = httpx.get(
            f"{sandbox_url}/_sandbox/calls", params={"network": "x", "endpoint": "lookup_handle"}
        ).json()["count"]
        windows = math.ceil(elapsed / args.window)
        allowed = args.budget * windows
        answered = calls - state["rate_limited"]
        linked, duplicates, missing = link_check(expected)
        print(f"database          {args.database}")
        print(f"contacts          {state['processed']:,} of {state['total']:,} ({state['status']})")
        print(f"elapsed           {elapsed:,.1f} s")
        print(f"throughput        {state['processed'] / elapsed:,.1f} contacts/s")
        print(
            f"budget            {args.budget} lookups / {args.window} s per token "
            f"= {args.budget / args.window:,.0f}/s"
        )
        print(f"lookups answered  {answered:,} of {allowed:,} allowed in {windows} windows")
        print(f"budget used       {answered / allowed:.1%}")
        print(
            f"429s received     {state['rate_limited']} of {calls:,} calls "
            f"({state['rate_limited'] / max(calls, 1):.3%})"
        )
        print(f"5xx/timeouts      {state['transient_errors']}")
        print(f"peak worker RSS   {peak:,.0f} MB")
        print(f"links             {linked:,} (expected {expected:,}), duplicates {duplicates}")
        if args.kill:
            print(
                f"kill -9           worker killed at {killed_at:,} processed; resumed; "
                f"final processed {state['processed']:,}, missing links {missing}, "
                f"duplicates {duplicates}"
            )
    finally:
        for w in workers:
            w.kill()
        sandbox.send_signal(signal.SIGINT)
        sandbox.wait(10)
        logs.close()


if __name__ == "__main__":
    main()
