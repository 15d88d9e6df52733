"""API speed against a bare FastAPI endpoint, side by side in one run (issue 20).

For SQLite, then PostgreSQL when reachable (its own schema), it seeds N contacts (10,000) for
one tenant and starts two servers on the same database, both uvicorn with uvloop + httptools:

- the product, ``socialcrm serve --no-worker`` (its middlewares, logging, authentication,
  tenant scoping, ORM, pydantic schemas), and
- a bare FastAPI app written here (``bare_app``): SQLAlchemy Core on the same tables, a Bearer
  check (SHA-256 of the key looked up with its tenant on every request), the rows straight to
  ``json.dumps`` (no response model, no ``jsonable_encoder``): the floor, not a strawman.

``wrk`` (Debian's package; the bench says where it found it, and exits saying how to install
it when it is missing) drives them in turns: for each scenario, rounds of a few seconds each,
alternating bare/product, so that the noise of a shared machine falls on both alike. wrk runs
in C on one thread and is far cheaper per request than the servers it drives. Scenarios: a
contact by id (random over all ids), the first list page, a search by name. Besides
requests/s and p50/p99 it prints each server's CPU per request (from /proc: the least noisy
figure on a shared machine) and the ratios. Then ``serve --workers 2`` against one process
on the read by id (needs Redis: ``SOCIALCRM_BENCH_REDIS_URL``, default db 6).

    .venv/bin/python bench/api.py [--contacts 10000] [--seconds 4] [--rounds 3]
        [--connections 16] [--only sqlite|postgresql] [--no-workers]

Goal (issue 20): product >= 0.8x bare requests/s, p99 <= 1.5x bare p99, workers 2 >= 1.7x one.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import free_port, start_server

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SOCIALCRM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
BENCH_SCHEMA = "socialcrm_bench_api"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the bare endpoint ------------------------------------------------------------------------


def bare_app() -> Any:
    """A plain FastAPI + SQLAlchemy Core app over the product's tables (``BARE_DATABASE_URL``):
    what the product is measured against. Started by uvicorn with ``--factory``."""
    from fastapi import Depends, FastAPI, HTTPException, Request, Response
    from sqlalchemy import Connection, MetaData, Table, create_engine, select, text

    url = os.environ["BARE_DATABASE_URL"]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        **({"connect_args": {"check_same_thread": False}} if sqlite else {}),
    )
    meta = MetaData()
    contacts = Table("contacts", meta, autoload_with=engine)
    keys = Table("api_keys", meta, autoload_with=engine)
    tenants = Table("tenants", meta, autoload_with=engine)
    fields = [c for c in contacts.c if c.name not in ("search_text", "tenant_id")]
    app = FastAPI()

    def as_json(content: Any) -> Response:
        """Straight to JSON (FastAPI's default ``jsonable_encoder`` walk costs more than the
        query on a page of 50)."""
        return Response(json.dumps(content, default=str), media_type="application/json")

    def db() -> Any:
        with engine.connect() as conn:
            yield conn

    def tenant(request: Request, conn: Connection = Depends(db)) -> int:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401)
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        found = conn.execute(
            select(keys.c.tenant_id)
            .join(tenants, tenants.c.id == keys.c.tenant_id)
            .where(keys.c.key_hash == digest, keys.c.revoked_at.is_(None), tenants.c.active)
        ).scalar()
        if found is None:
            raise HTTPException(401)
        return int(found)

    @app.get("/api/contacts/{contact_id}")
    def contact(
        contact_id: int,
        tenant_id: int = Depends(tenant),
        conn: Connection = Depends(db),
    ) -> Response:
        row = conn.execute(
            select(*fields).where(contacts.c.id == contact_id, contacts.c.tenant_id == tenant_id)
        ).first()
        if row is None:
            raise HTTPException(404)
        return as_json(dict(row._mapping))

    @app.get("/api/contacts")
    def page(
        limit: int = 50,
        q: str | None = None,
        tenant_id: int = Depends(tenant),
        conn: Connection = Depends(db),
    ) -> Response:
        stmt = (
            select(*fields)
            .where(contacts.c.tenant_id == tenant_id)
            .order_by(contacts.c.id.desc())
            .limit(limit)
        )
        if q:
            needle = q.strip().lower()
            if sqlite and len(needle) >= 3:
                hits = text("SELECT rowid FROM contacts_search WHERE contacts_search MATCH :p")
                phrase = '"' + needle.replace('"', '""') + '"'
                stmt = stmt.where(contacts.c.id.in_(hits.bindparams(p=phrase)))
            else:
                stmt = stmt.where(contacts.c.search_text.like(f"%{needle}%"))
        items = [dict(r._mapping) for r in conn.execute(stmt)]
        return as_json({"items": items, "next_cursor": None})

    return app


def start_bare(env: dict[str, str], database_url: str, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "api:bare_app"]
    command += ["--app-dir", str(Path(__file__).parent), "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools"]
    proc = subprocess.Popen(
        command,
        env=env | {"BARE_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180  # a busy machine imports slowly
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/contacts/1", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the bare server did not start")


# --- driving them with wrk --------------------------------------------------------------------


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "bench/api.py drives the servers with wrk: `apt-get install wrk` (Debian) first"
        )
    return found


LUA = """
local paths = {%s}
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def lua_script(directory: Path, name: str, paths: list[str], seed: int) -> Path:
    script = directory / f"{name}.lua"
    script.write_text(LUA % (",".join(f'"{p}"' for p in paths), seed))
    return script


@dataclass
class Sample:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def row(self, label: str) -> str:
        med = statistics.median
        return (
            f"  {label:18} {med(self.rps):9.0f} {med(self.p50):8.2f} {med(self.p99):8.2f}"
            f" {med(self.cpu_us):10.0f}"
        )


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its (live) children."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(c) for c in (task / "children").read_text().split()]
    for process in pids:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def wrk_run(
    wrk: str, url: str, key: str, script: Path, args: argparse.Namespace, pid: int, conns: int
) -> tuple[float, float, float, float]:
    """requests/s, p50 ms, p99 ms, server CPU µs per request."""
    cpu_before = cpu_seconds(pid)
    command = [wrk, "-t1", f"-c{conns}", f"-d{args.seconds}s", "--latency", "--timeout", "30s"]
    command += ["-s", str(script)]
    command += ["-H", f"Authorization: Bearer {key}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before
    if "Non-2xx" in out or re.search(r"Socket errors: connect [1-9]|read [1-9]|write [1-9]", out):
        raise SystemExit(f"{url}: errors\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, cpu / max(total, 1) * 1e6


def compare(
    wrk: str,
    targets: dict[str, tuple[str, int]],
    key: str,
    script: Path,
    args: argparse.Namespace,
    conns: int,
) -> dict[str, Sample]:
    """Rounds alternating the targets (the order flips each round)."""
    samples = {name: Sample() for name in targets}
    names = list(targets)
    for name in names:  # warm up: caches, pools, JIT-free but page cache and imports
        url, pid = targets[name]
        warm = argparse.Namespace(**(vars(args) | {"seconds": 1}))
        wrk_run(wrk, url, key, script, warm, pid, conns)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            url, pid = targets[name]
            rps, p50, p99, cpu = wrk_run(wrk, url, key, script, args, pid, conns)
            sample = samples[name]
            sample.rps.append(rps)
            sample.p50.append(p50)
            sample.p99.append(p99)
            sample.cpu_us.append(cpu)
    return samples


def ratios(product: Sample, bare: Sample) -> str:
    med = statistics.median
    rps = med(product.rps) / med(bare.rps)
    p99 = med(product.p99) / med(bare.p99)
    cpu = med(product.cpu_us) / med(bare.cpu_us)
    verdict = "ok" if rps >= 0.8 and p99 <= 1.5 else "below goal"
    return (
        f"  ratio  rps {rps:.2f}x (goal >= 0.8)  p99 {p99:.2f}x (goal <= 1.5)"
        f"  CPU/req {cpu:.2f}x  {verdict}"
    )


# --- one backend ------------------------------------------------------------------------------


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


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_backend(
    label: str, env: dict[str, str], database_url: str, args: argparse.Namespace, tmp: Path
) -> None:
    wrk = find_wrk()
    t0 = time.perf_counter()
    key, ids = seed(env, args.contacts)
    print(f"\n[{label}] seeded {len(ids):,} contacts in {time.perf_counter() - t0:.1f} s")
    rng = random.Random(7)
    scenarios = {
        "GET /api/contacts/{id}": [f"/api/contacts/{rng.choice(ids)}" for _ in range(2000)],
        "GET /api/contacts?limit=50": ["/api/contacts?limit=50"],
        "GET /api/contacts?q=<name>&limit=20": [
            f"/api/contacts?q=lovelace%20{rng.randrange(len(ids))}&limit=20" for _ in range(500)
        ],
    }
    product_port, bare_port = free_port(), free_port()
    product = start_server(env, product_port)
    bare = start_bare(env, database_url, bare_port)
    targets = {
        "bare FastAPI": (f"http://127.0.0.1:{bare_port}", bare.pid),
        "socialcrm serve": (f"http://127.0.0.1:{product_port}", product.pid),
    }
    try:
        print(f"  {'':18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>10}")
        for number, (name, paths) in enumerate(scenarios.items()):
            script = lua_script(tmp, f"{label}-{number}", paths, number)
            samples = compare(wrk, targets, key, script, args, args.connections)
            print(name)
            for target, sample in samples.items():
                print(sample.row(target))
            print(ratios(samples["socialcrm serve"], samples["bare FastAPI"]))
    finally:
        stop(product)
        stop(bare)
    if args.no_workers:
        return
    try:
        compare_workers(wrk, env, key, scenarios["GET /api/contacts/{id}"], args, tmp, label)
    except SystemExit as exc:
        print(f"serve --workers 2: not measured ({exc})")


def compare_workers(
    wrk: str,
    env: dict[str, str],
    key: str,
    paths: list[str],
    args: argparse.Namespace,
    tmp: Path,
    label: str,
) -> None:
    queue = {"SOCIALCRM_QUEUE_URL": REDIS_URL}
    one_port, two_port = free_port(), free_port()
    one = start_server(env | queue, one_port)
    try:
        two = start_server(env | queue, two_port, workers=2)
    except SystemExit:
        stop(one)
        raise
    try:
        script = lua_script(tmp, f"{label}-workers", paths, 9)
        pair = {
            "serve, 1 process": (f"http://127.0.0.1:{one_port}", one.pid),
            "serve --workers 2": (f"http://127.0.0.1:{two_port}", two.pid),
        }
        samples = compare(wrk, pair, key, script, args, args.connections * 2)
        print(f"GET /api/contacts/{{id}}, {args.connections * 2} connections")
        for target, sample in samples.items():
            print(sample.row(target))
        gain = statistics.median(samples["serve --workers 2"].rps) / statistics.median(
            samples["serve, 1 process"].rps
        )
        print(f"  ratio  workers 2 / 1: {gain:.2f}x (goal >= 1.7)")
    finally:
        stop(one)
        stop(two)


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
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server and scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--no-workers", action="store_true", help="skip serve --workers 2")
    args = parser.parse_args()
    print(
        f"bench/api.py: {args.contacts:,} contacts, wrk at {find_wrk()} -t1 "
        f"-c{args.connections}, {args.rounds} rounds of {args.seconds} s per server, "
        f"{os.cpu_count()} cores; medians of the rounds"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
        base_env |= {"SOCIALCRM_DATA_DIR": name}
        if args.only in (None, "sqlite"):
            run_backend("sqlite", base_env, f"sqlite:///{name}/socialcrm.db", args, tmp)
        if args.only in (None, "postgresql") and postgres_reachable():
            url = f"{PG_URL}?options=-csearch_path%3D{BENCH_SCHEMA}"
            run_backend("postgresql", base_env | {"SOCIALCRM_DATABASE_URL": url}, url, args, tmp)


if __name__ == "__main__":
    main()
