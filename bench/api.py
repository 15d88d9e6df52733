"""API speed: GET /api/contacts/{id} and list queries over 100,000 contacts, real HTTP.

Starts `socialcrm serve` in a subprocess on SQLite, then on PostgreSQL when reachable, seeds
100,000 contacts, and drives it from this process with concurrent keep-alive clients. Prints
requests/s and p50/p99 latency per query, and the server's peak memory (RSS).

    .venv/bin/python bench/api.py [--contacts 100000] [--requests 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serving import free_port, rss_mb, start_server

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_SCHEMA = "socialcrm_bench"


def seed(env: dict[str, str], contacts: int) -> tuple[str, list[int]]:
    """Migrate and bulk-insert contacts in a child interpreter using the project's own code."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seed_contacts.py")), str(contacts)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    low, high = map(int, out[1].split())
    return out[0].strip(), list(range(low, high + 1))


async def drive(
    base: str, key: str, paths: list[str], concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(paths)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            while queue:
                path = queue.pop()
                start = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(paths) / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def run_backend(label: str, env: dict[str, str], args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    key, ids = seed(env, args.contacts)
    print(f"\n[{label}] seeded {len(ids):,} contacts in {time.perf_counter() - t0:.1f} s")
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        rng = random.Random(7)
        scenarios = {
            "GET /api/contacts/{id}": [
                f"/api/contacts/{rng.choice(ids)}" for _ in range(args.requests)
            ],
            "GET /api/contacts?limit=50": ["/api/contacts?limit=50"] * (args.requests // 2),
            "GET /api/contacts?limit=50&cursor=<deep>": [
                f"/api/contacts?limit=50&cursor={rng.choice(ids)}"
                for _ in range(args.requests // 2)
            ],
            "GET /api/contacts?q=<name>&limit=20": [
                f"/api/contacts?q=lovelace%20{rng.randrange(len(ids))}&limit=20"
                for _ in range(max(50, args.requests // 20))
            ],
        }
        asyncio.run(drive(base, key, scenarios["GET /api/contacts/{id}"][:200], args.concurrency))
        print(f"{'query':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for name, paths in scenarios.items():
            rate, lat = asyncio.run(drive(base, key, paths, args.concurrency))
            print(f"{name:44} {rate:9.0f} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f}")
        print(f"server peak RSS: {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(10)


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
            conn.execute(f"CREATE SCHEMA {BENCH_SCHEMA}")
        return True
    except Exception as exc:
        print(f"\n[postgresql] skipped: {exc}")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(
        f"bench/api.py: {args.contacts:,} contacts, {args.requests:,} requests, "
        f"concurrency {args.concurrency}, {os.cpu_count()} cores, one uvicorn process"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
        base_env |= {"SOCIALCRM_DATA_DIR": tmp}
        run_backend("sqlite", base_env, args)
        if postgres_reachable():
            url = f"{PG_URL}?options=-csearch_path%3D{BENCH_SCHEMA}"
            run_backend("postgresql", base_env | {"SOCIALCRM_DATABASE_URL": url}, args)


if __name__ == "__main__":
    main()
