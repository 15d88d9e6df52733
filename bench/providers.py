"""Provider adapters over real HTTP: each network's profile lookup and metrics read, through
our adapter, against the sandbox on a loopback port (in a child process).

Prints calls/s and p50/p95/p99 latency per network and operation, the same lookups made from
synchronous code through the production gateway (``connections.gateway.call``: the provider
runtime's event loop and pooled clients) from one thread and from several, the pure limit
readers' speed (Meta usage headers, Pacific midnight), and this process's peak memory.

    .venv/bin/python bench/providers.py [--calls 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx

from socialcrm.providers.base import AppCredentials, CallContext, Provider
from socialcrm.providers.limits import meta_budget, next_pacific_midnight
from socialcrm.providers.registry import build_provider
from socialcrm_sandbox.schema import TEST_WORLD_PATH

WORLD = TEST_WORLD_PATH
CASES: dict[str, tuple[str, str, str]] = {  # network: (sign in as, handle to look up, post id)
    "linkedin": ("ada-lovelace", "analytical-engines", "urn:li:share:9503"),
    "facebook": ("ada.lovelace", "analyticalengines", "104000000001_9601"),
    "instagram": ("ada.lovelace", "", "9701"),
    "youtube": ("adalovelace", "@adalovelace", "v0000009801"),
    "tiktok": ("ada.codes", "", "9901"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn, sys; from socialcrm_sandbox.app import create_app; "
        f"uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port={port}, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(WORLD)])


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("sandbox did not start")


async def connect(http: httpx.AsyncClient, url: str, network: str) -> tuple[Provider, CallContext]:
    provider = build_provider(network, http, sandbox_url=url)
    app = AppCredentials(f"test-{network}-client", f"test-{network}-secret")
    redirect = f"http://testserver/oauth/callback/{network}"
    verifier = "v" * 64
    auth = provider.authorization_url(
        app, redirect_uri=redirect, state="s", code_verifier=verifier, scopes=()
    )
    form = {k: v[0] for k, v in parse_qs(urlsplit(auth).query).items()}
    consent = await http.post(
        auth.split("?")[0], data={**form, "account": CASES[network][0], "decision": "allow"}
    )
    if "location" not in consent.headers:
        raise SystemExit(f"{network}: consent answered {consent.status_code}: {consent.text[:300]}")
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    tokens = await provider.exchange_code(
        app, code=code, redirect_uri=redirect, code_verifier=verifier
    )
    return provider, CallContext(access_token=tokens.access_token)


async def measure(
    label: str, call: Callable[[], Awaitable[object]], calls: int, concurrency: int
) -> None:
    latencies: list[float] = []
    queue = iter(range(calls))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<28} {calls / elapsed:8.0f} calls/s   p50 {cuts[49]:6.1f} ms   "
        f"p95 {cuts[94]:6.1f} ms   p99 {cuts[98]:6.1f} ms"
    )


async def run(url: str, calls: int, concurrency: int) -> dict[str, CallContext]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    contexts: dict[str, CallContext] = {}
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        for network, (_who, handle, post_id) in CASES.items():
            provider, ctx = await connect(http, url, network)
            contexts[network] = ctx
            if handle:
                await measure(
                    f"{network} lookup_handle",
                    lambda p=provider, c=ctx, h=handle: p.lookup_handle(c, h),
                    calls,
                    concurrency,
                )
            else:
                await measure(
                    f"{network} me", lambda p=provider, c=ctx: p.me(c), calls, concurrency
                )
            await measure(
                f"{network} metrics",
                lambda p=provider, c=ctx, i=post_id: p.metrics(c, i),
                calls,
                concurrency,
            )
    return contexts


def count_connections() -> list[int]:
    """Count the TCP connections httpx opens from here on (httpcore's backend, a private API:
    a bench may look inside)."""
    from httpcore._backends.auto import AutoBackend

    opened = [0]
    connect = AutoBackend.connect_tcp

    async def counted(self: AutoBackend, *args: object, **kwargs: object) -> object:
        opened[0] += 1
        return await connect(self, *args, **kwargs)  # type: ignore[arg-type]

    AutoBackend.connect_tcp = counted  # type: ignore[assignment,method-assign]
    return opened


def through_gateway(contexts: dict[str, CallContext], calls: int, threads: int) -> None:
    """What the product's synchronous code pays per provider call (request threads, workers),
    and how many connections it opens for them."""
    from socialcrm.connections import gateway

    opened = count_connections()

    for network, (_who, handle, _post) in CASES.items():
        ctx = contexts[network]

        async def one(p: Provider, c: CallContext = ctx, h: str = handle) -> object:
            return await (p.lookup_handle(c, h) if h else p.me(c))

        for workers in (1, threads):
            latencies: list[float] = []
            before = opened[0]

            def call(_: int, n: str = network, out: list[float] = latencies) -> None:
                started = time.perf_counter()
                gateway.call(n, one)
                out.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(call, range(calls)))
            elapsed = time.perf_counter() - started
            cuts = statistics.quantiles(latencies, n=100)
            label = f"gateway {network} x{workers}"
            print(
                f"{label:<28} {calls / elapsed:8.0f} calls/s   p50 {cuts[49]:6.1f} ms   "
                f"p95 {cuts[94]:6.1f} ms   p99 {cuts[98]:6.1f} ms   "
                f"{opened[0] - before} connections"
            )


def pure_limits(rounds: int = 100_000) -> None:
    headers = {
        "X-App-Usage": json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 61}),
        "X-Business-Use-Case-Usage": json.dumps(
            {"1": [{"type": "pages", "call_count": 90, "estimated_time_to_regain_access": 3}]}
        ),
    }
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(rounds):
        meta_budget(headers, now)
    meta = rounds / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        next_pacific_midnight(now)
    pacific = rounds / (time.perf_counter() - started)
    print(f"{'meta_budget (pure)':<28} {meta:8.0f} calls/s")
    print(f"{'next_pacific_midnight':<28} {pacific:8.0f} calls/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    server = start_sandbox(port)
    url = f"http://127.0.0.1:{port}"
    os.environ["SOCIALCRM_SANDBOX_URL"] = url  # the gateway's adapters talk to the sandbox
    try:
        wait_healthy(url)
        calls, workers = args.calls, args.concurrency
        print(f"adapters -> sandbox over HTTP, {calls} calls each, concurrency {workers}")
        contexts = asyncio.run(run(url, args.calls, args.concurrency))
        through_gateway(contexts, args.calls, workers)
        pure_limits()
    finally:
        server.terminate()
        server.wait(timeout=10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the client process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
