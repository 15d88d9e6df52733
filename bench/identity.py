"""Identity resolution speed over a graph of 1,000,000 identities, SQLite then PostgreSQL.

For each backend: seed N contacts, each with an X account (user id + handle) in the identity
graph; then
  1. in-process: ``identity.resolve.resolve`` p50/p99 per path (user id, handle, cached,
     look-alike, unknown), one unit of work per call like a request;
  2. over HTTP on loopback: `socialcrm serve` in a subprocess, open-loop load at a fixed
     request rate from concurrent keep-alive clients (POST /api/v1/resolve by user id);
  3. memory: the graph's size in the database and the server's peak RSS.

    .venv/bin/python bench/identity.py [--identities 1000000] [--rate 500] [--seconds 10]
        [--workers 2]  (server processes; above 1 they share Redis, SOCIALCRM_TEST_REDIS_URL)
        [--keep DIR]  (keep the seeded graph and reuse it in the next run: before/after a change)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serving import children, free_port, rss_mb, start_server

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_SCHEMA = "socialcrm_bench_identity"
UID_BASE = 1_000_000_000
TIMEOUT_S = 5.0  # an answer later than this counts as dropped
REDIS_URL = os.environ.get("SOCIALCRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def handle_of(i: int) -> str:
    return f"cust_{i}"


# --- seeding (child process, so each backend gets its own settings) ------------------------


def seed(count: int) -> None:
    """N Contacts, each with an X account in the graph, loaded in bulk: COPY on PostgreSQL,
    the driver's executemany on SQLite (values serialised by the columns' own types, secondary
    indexes dropped during the load and built once after it)."""
    from sqlalchemy import Table, func, select

    from socialcrm.core.db import get_database, utcnow
    from socialcrm.core.settings import get_settings
    from socialcrm.crm.models import Contact
    from socialcrm.crm.service import contact_search_text
    from socialcrm.identity.models import HandleAlias, IdentityProfile
    from socialcrm.identity.normalise import normalise_handle
    from socialcrm.migrations import upgrade
    from socialcrm.tenancy.service import create_api_key, get_or_create_tenant

    upgrade(get_settings().database_url)
    db = get_database()
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Bench")
        _, key = create_api_key(session, tenant=tenant)
        tenant_id = tenant.id
    now = utcnow()
    tables: list[Table] = [Contact.__table__, IdentityProfile.__table__, HandleAlias.__table__]  # type: ignore[list-item]
    indexes = [index for table in tables for index in table.indexes]
    batch = 50_000
    with db.engine.begin() as conn:
        first_id = (conn.execute(select(func.max(Contact.id))).scalar() or 0) + 1
        for index in indexes:
            index.drop(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MB for the load
        for start in range(0, count, batch):
            contacts, profiles, aliases = [], [], []
            for i in range(start, min(count, start + batch)):
                values = {
                    "name": f"Customer {i}",
                    "emails": [f"c{i}@example.com"],
                    "phones": [],
                    "handles": [
                        {"network": "x", "handle": handle_of(i), "user_id": str(UID_BASE + i)}
                    ],
                    "tier": "platinum" if i % 100 == 0 else "standard",
                }
                contacts.append(
                    values
                    | {
                        "id": first_id + i,
                        "search_text": contact_search_text(values),
                        "tenant_id": tenant_id,
                        "created_at": now,
                        "updated_at": now,
                        "profile_updated_at": now,
                    }
                )
                n = normalise_handle(handle_of(i), "x")
                profiles.append(
                    {
                        "id": i + 1,
                        "tenant_id": tenant_id,
                        "network": "x",
                        "user_id": str(UID_BASE + i),
                        "handle": n.handle,
                        "url": n.url,
                        "contact_id": first_id + i,
                        "source": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                aliases.append(
                    {
                        "id": i + 1,
                        "tenant_id": tenant_id,
                        "profile_id": i + 1,
                        "network": "x",
                        "handle": n.handle,
                        "local": n.local,
                        "skeleton": n.skeleton,
                        "first_seen_at": now,
                    }
                )
            for table, rows in zip(tables, (contacts, profiles, aliases), strict=True):
                bulk_load(conn, table, rows)
        for index in indexes:
            index.create(conn)
        if conn.dialect.name == "postgresql":
            for table in tables:
                sql = f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"  # noqa: S608, E501 (the model's own table)
                conn.exec_driver_sql(sql)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(json.dumps({"key": key, "tenant_id": tenant_id}))


def bulk_load(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows (with every column's Python-side default filled in) straight to the driver."""
    defaults = {
        column.name: column.default.arg(None) if column.default.is_callable else column.default.arg
        for column in table.columns
        if column.default is not None and column.name not in rows[0]
    }
    names = [*rows[0], *defaults]
    fixed = list(defaults.values())
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        json_columns = {name for name in names if table.c[name].type.__class__.__name__ == "JSON"}
        encode = [json.dumps if name in json_columns else None for name in names]
        with driver.cursor().copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                values = [*row.values(), *fixed]
                copy.write_row([f(v) if f else v for f, v in zip(encode, values, strict=True)])
        return
    procs = [table.c[name].type._cached_bind_processor(conn.dialect) for name in names]
    # A value every row shares (the load's timestamp, the tenant, a default) is serialised
    # once; the others by their column's own bind processor (JSON, UTC datetimes).
    first = [*rows[0].values(), *fixed]
    shared = [
        i >= len(rows[0]) or all(row[name] is first[i] for row in rows)
        for i, name in enumerate(names)
    ]
    once = [p(v) if p else v for p, v in zip(procs, first, strict=True)]
    per_row = [i for i, p in enumerate(procs) if p is not None and not shared[i]]
    values = []
    for row in rows:
        out = [*row.values(), *fixed]
        for i, keep in enumerate(shared):
            if keep:
                out[i] = once[i]
        for i in per_row:
            out[i] = procs[i](out[i])  # type: ignore[misc]
        values.append(out)
    placeholders = ", ".join("?" for _ in names)
    driver.executemany(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})",  # noqa: S608
        values,
    )


# --- in-process -------------------------------------------------------------------------------


def in_process(count: int, samples: int) -> None:
    from socialcrm.core.db import get_database
    from socialcrm.identity import resolve as service
    from socialcrm.identity.cache import resolution_cache
    from socialcrm.identity.schemas import ResolveIn

    info = json.loads(os.environ["BENCH_INFO"])
    tenant_id = info["tenant_id"]
    db = get_database()
    rng = random.Random(11)
    before = rss_self_mb()

    def run(name: str, make: Any, *, clear: bool) -> None:
        lat = []
        for _ in range(samples):
            req = make()
            if clear:
                resolution_cache.clear()
            t0 = time.perf_counter()
            with db.session(tenant_id=tenant_id) as session:
                out = service.resolve(session, tenant_id, req, actor="bench")
            lat.append((time.perf_counter() - t0) * 1000)
        print(
            f"  {name:44} p50 {pct(lat, 50):7.3f} ms   p99 {pct(lat, 99):7.3f} ms   ({out.reason})"
        )

    def by_uid() -> ResolveIn:
        i = rng.randrange(count)
        return ResolveIn(handle=handle_of(i), channel="x", user_id=str(UID_BASE + i))

    def by_handle() -> ResolveIn:
        return ResolveIn(handle=f"@{handle_of(rng.randrange(count))}", channel="x")

    hot = [by_uid() for _ in range(200)]
    run("by user id (cache cold)", by_uid, clear=True)
    run("by handle, no user id (cache cold)", by_handle, clear=True)
    for req in hot:
        with db.session(tenant_id=tenant_id) as session:
            service.resolve(session, tenant_id, req, actor="bench")
    run("by user id (cache warm)", lambda: rng.choice(hot), clear=False)
    run(
        "look-alike of a customer (-> review)",
        lambda: ResolveIn(handle=f"cu\u0455t_{rng.randrange(count)}", channel="x"),
        clear=True,
    )
    run(
        "unknown sender",
        lambda: ResolveIn(
            handle=f"nobody_{rng.randrange(10**6)}", channel="x", user_id=str(rng.randrange(10**9))
        ),
        clear=True,
    )
    gc.collect()
    print(f"  in-process RSS: {rss_self_mb():.0f} MB (before resolving {before:.0f} MB)")


def rss_self_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- over HTTP ----------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the load generator: a request is written whole
    and its answer read from the buffer by Content-Length (no stream reader, no task per
    line): the load generator shares the two cores with the server it measures."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        try:
            waiter.set_result(int(head[9:12]))
        except ValueError:
            waiter.set_exception(ValueError("not an HTTP answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def send(self, request: bytes, timeout: float) -> asyncio.Future[int]:
        """The answer's status, or ``TimeoutError`` after ``timeout`` seconds."""
        waiter = self.waiter = self.loop.create_future()
        if self.transport is None:
            waiter.set_exception(ConnectionError("not connected"))
            return waiter
        self.transport.write(request)
        self.loop.call_later(timeout, _expire, waiter)
        return waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[int]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def open_loop(
    base: str, key: str, bodies: list[dict[str, Any]], rate: float, clients: int
) -> tuple[float, list[float], int, int, float, list[float]]:
    """Send at a fixed rate regardless of answers (open loop): queueing shows in latency.

    A lean HTTP/1.1 client over ``clients`` keep-alive connections (requests encoded up front,
    answers read by Content-Length, on uvloop): on a 2-core machine the load generator shares
    the CPU with the server, and a general-purpose client costs as much CPU per request as the
    server. Latency counts from the moment a request was due (its intended send time), so
    waiting for a connection or for the server is not hidden (no coordinated omission).
    Returns the achieved rate of answers, the latencies, the errored count (not 200,
    connection failure), the dropped count (no answer within ``TIMEOUT_S``) and the load
    generator's own CPU seconds while sending, and when (s into the run) each answer over 20 ms
    was due.
    """
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/resolve HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    )
    requests = []
    for body in bodies:
        payload = json.dumps(body).encode()
        requests.append(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    loop = asyncio.get_running_loop()

    async def connect() -> _Connection:
        _, protocol = await loop.create_connection(lambda: _Connection(loop), host, int(port))
        return protocol

    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(clients):
        idle.put_nowait(await connect())
    latencies: list[float] = []
    slow: list[float] = []  # when (s into the run) each answer over 20 ms was due
    errors = dropped = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal errors, dropped
        connection = await idle.get()
        try:
            left = TIMEOUT_S - (time.perf_counter() - due)
            status = await connection.send(request, max(left, 0.001))
            errors += status != 200
            latency = (time.perf_counter() - due) * 1000
            latencies.append(latency)
            if latency > 20:
                slow.append(due - started)
        except TimeoutError:
            dropped += 1
            connection.close()
            connection = await connect()
        except (OSError, ValueError):
            errors += 1
            connection.close()
            connection = await connect()
        idle.put_nowait(connection)

    tasks = []
    cpu = time.process_time()
    started = time.perf_counter()
    for i, request in enumerate(requests):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    while not idle.empty():
        idle.get_nowait().close()
    return len(latencies) / elapsed, latencies, errors, dropped, cpu, slow


def when_slow(slow: list[float]) -> str:
    """How many answers took over 20 ms and in which seconds of the run they were due: a
    burst in one second is a stall, a spread is queueing."""
    if not slow:
        return "none"
    seconds: dict[int, int] = {}
    for t in slow:
        seconds[int(t)] = seconds.get(int(t), 0) + 1
    busiest = sorted(seconds.items(), key=lambda item: -item[1])[:3]
    where = ", ".join(f"{n} in second {second}" for second, n in sorted(busiest))
    return f"{len(slow)} ({where})"


def load(coroutine: Any) -> Any:
    """Run the load generator on uvloop (the server's event loop too): less of the shared CPU."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its worker processes so far."""
    return sum(_cpu_of(process) for process in [pid, *children(pid)])


def _cpu_of(pid: int | str, *, reaped: bool = False) -> float:
    """CPU seconds of one process (``reaped``: with its children that ended, e.g. the
    PostgreSQL backends the postmaster has collected)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    used = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        used += int(fields[13]) + int(fields[14])  # cutime, cstime
    return used / os.sysconf("SC_CLK_TCK")


def service_cpu() -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL processes and of Redis on this machine (what the
    server's requests cost them; the benchmark holds the machine's CPU lock)."""
    totals = {"postgres": 0.0, "redis-server": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in totals:
            totals[name] += _cpu_of(entry.name, reaped=name == "postgres")
    return totals


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def db_size(env: dict[str, str], data_dir: str) -> str:
    url = env.get("SOCIALCRM_DATABASE_URL", "")
    if not url:
        size = sum(p.stat().st_size for p in Path(data_dir).glob("socialcrm.db*"))
        return f"SQLite file {size / 2**20:.0f} MB (contacts + graph)"
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' "
            "AND c.relname LIKE 'identity_%%'",
            (BENCH_SCHEMA,),
        ).fetchone()
    return f"identity tables {int(rows[0] or 0) / 2**20:.0f} MB on disk (with indexes)"


def run_backend(
    label: str, env: dict[str, str], args: argparse.Namespace, data_dir: str, saved: Path | None
) -> None:
    """Seed (or, with ``--keep``, reuse the graph a previous run seeded), then measure."""
    if saved is not None and saved.exists():
        out = saved.read_text()
        print(f"\n[{label}] reusing the {args.identities:,} identities seeded before; ", end="")
    else:
        t0 = time.perf_counter()
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child-seed", str(args.identities)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        if saved is not None:
            saved.write_text(out)
        print(
            f"\n[{label}] seeded {args.identities:,} identities in "
            f"{time.perf_counter() - t0:.0f} s; ",
            end="",
        )
    print(db_size(env, data_dir))
    info = json.loads(out)
    if args.samples:
        print(" in-process resolve (one unit of work per call):")
        subprocess.run(
            [sys.executable, __file__, "--child-inproc", str(args.identities), str(args.samples)],
            env=env | {"BENCH_INFO": out},
            check=True,
        )
    for workers in args.workers:
        serve_and_load(env, args, info["key"], workers)


def serve_and_load(env: dict[str, str], args: argparse.Namespace, key: str, workers: int) -> None:
    """``workers`` server processes under the open-loop load; latency percentiles, memory."""
    port = free_port()
    if workers > 1:  # the processes share cache invalidations and rate limits there
        env = env | {"SOCIALCRM_QUEUE_URL": REDIS_URL}
    server = start_server(env, port, workers)
    print(f" {workers} server process(es):")
    base = f"http://127.0.0.1:{port}"
    try:
        rng = random.Random(5)
        # Warm-up: 2 s at the measured rate and concurrency, so that the measured run sees a
        # server in its steady state (every pool connection and worker thread in use once;
        # on PostgreSQL each new backend's first statements). Its senders are kept out of
        # the measured runs, and its own figures are printed: what a cold start costs.
        warm_ids = {rng.randrange(args.identities) for _ in range(int(args.rate * 2))}
        warm = [
            {"handle": handle_of(i), "channel": "x", "user_id": str(UID_BASE + i)}
            for i in sorted(warm_ids)
        ]
        rng.shuffle(warm)
        _, lat, errors, dropped, _, slow = load(open_loop(base, key, warm, args.rate, args.clients))
        print(
            f" warm-up (not counted), cold start at {args.rate:.0f}/s for 2 s: p50 "
            f"{pct(lat, 50):.2f} ms p99 {pct(lat, 99):.2f} ms, errored {errors} dropped "
            f"{dropped}, answers over 20 ms: {when_slow(slow)}"
        )
        # The active senders are the ones the routing flow saw in the last minutes: each has
        # been resolved once before the measured run (at a rate the server keeps up with).
        active = [i * 499 % args.identities for i in range(2_000)]
        total = int(args.rate * args.seconds)
        for name, bodies, before in (
            (
                "by user id, random over all (mostly uncached)",
                [
                    {"handle": handle_of(i), "channel": "x", "user_id": str(UID_BASE + i)}
                    for i in (rng.randrange(args.identities) for _ in range(total))
                    if i not in warm_ids
                ],
                [],
            ),
            (
                "by user id, 2,000 active senders (cache hits)",
                [
                    {"handle": handle_of(i), "channel": "x", "user_id": str(UID_BASE + i)}
                    for i in (rng.choice(active) for _ in range(total))
                ],
                [
                    {"handle": handle_of(i), "channel": "x", "user_id": str(UID_BASE + i)}
                    for i in active
                ],
            ),
        ):
            if before:
                load(open_loop(base, key, before, 150, args.clients))
            cpu0, services0 = cpu_seconds(server.pid), service_cpu()
            achieved, lat, errors, dropped, own, slow = load(
                open_loop(base, key, bodies, args.rate, args.clients)
            )
            services = service_cpu()
            answered = max(len(lat), 1)
            cpu = (cpu_seconds(server.pid) - cpu0) / answered * 1000
            pg, redis = ((services[n] - services0[n]) / answered * 1000 for n in services)
            goal = "meets" if pct(lat, 99) <= 20 and not (errors or dropped) else "MISSES"
            print(
                f" HTTP {name:46} offered {args.rate:.0f}/s achieved {achieved:4.0f}/s  "
                f"p50 {pct(lat, 50):6.2f} ms  p99 {pct(lat, 99):7.2f} ms  "
                f"errored {errors} dropped {dropped}  ({goal} p99<=20ms, none dropped)\n"
                f"      CPU per resolve: server {cpu:.2f} ms, load generator "
                f"{own / answered * 1000:.2f} ms, PostgreSQL {pg:.2f} ms, Redis {redis:.2f} ms"
                f"  (load average {os.getloadavg()[0]:.1f})\n"
                f"      answers over 20 ms: {when_slow(slow)}"
            )
        print(f" server peak RSS: {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(10)


def postgres_reachable(fresh: bool) -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            if fresh:
                conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {BENCH_SCHEMA}")
        return True
    except Exception as exc:
        print(f"\n[postgresql] skipped: {exc}")
        return False


def main() -> None:
    if sys.argv[1:2] in (["--child-seed"], ["--child-inproc"]):
        # The children import the product: this folder's bench/limits.py must not hide the
        # ``limits`` package the product uses.
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    if len(sys.argv) > 2 and sys.argv[1] == "--child-seed":
        seed(int(sys.argv[2]))
        return
    if len(sys.argv) > 3 and sys.argv[1] == "--child-inproc":
        in_process(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--samples", type=int, default=2000, help="in-process resolves per path (0: skip)"
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the seeded graph (SQLite file in DIR, the PostgreSQL schema) and reuse it",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument(
        "--workers",
        type=lambda v: [int(n) for n in v.split(",")],
        default=[2],
        help="server processes, e.g. 1,2 to measure both (above 1 uses Redis)",
    )
    args = parser.parse_args()
    print(
        f"bench/identity.py: {args.identities:,} identities, {args.rate:.0f} req/s "
        f"for {args.seconds:.0f} s "
        f"over {args.clients} connections, {os.cpu_count()} cores, "
        f"server processes {args.workers}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        keep = Path(args.keep) if args.keep else None
        tmp = scratch
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            tmp = str(keep)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
        base_env |= {"SOCIALCRM_DATA_DIR": tmp}
        if args.only in (None, "sqlite"):
            saved = keep / "sqlite.json" if keep else None
            run_backend("sqlite", base_env, args, tmp, saved)
        saved = keep / "postgresql.json" if keep else None
        if args.only in (None, "postgresql") and postgres_reachable(
            fresh=saved is None or not saved.exists()
        ):
            url = f"{PG_URL}?options=-csearch_path%3D{BENCH_SCHEMA}"
            env = base_env | {"SOCIALCRM_DATABASE_URL": url}
            run_backend("postgresql", env, args, tmp, saved)
            if keep is None:
                import psycopg

                with psycopg.connect(PG_URL) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
