"""Benchmark of website social-profile discovery: quality, extractor speed, one big API job.

    .venv/bin/python bench/discovery.py [--sites 10000] [--skip-farm]

1. Quality: precision, recall and F1 per network on the project's fixture pages
   (tests/discovery/pages/expected.json).
2. Extractor alone: pages/s on one core for ~50 KB pages.
3. Farm: N synthetic sites served on N loopback addresses (127.1.x.y, one asyncio server
   process), one job of N items through the real API of ``socialcrm serve`` (subprocess, with
   its in-process queue worker); wall time, sites/s, SSE progress events, the server's peak
   memory, and the accuracy of the job's results against the farm's ground truth.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "discovery" / "pages"
BIN = Path(sys.executable).parent
FARM_PORT_BASE = 18_000


# --- 1. quality ---------------------------------------------------------------------------------


def quality() -> dict[str, tuple[float, float, float, int]]:
    from socialcrm.discovery.extract import extract_profiles

    cases = json.loads((PAGES / "expected.json").read_text())
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for case in cases:
        got = extract_profiles((PAGES / case["file"]).read_text(), case["site"], case["name"])
        want: dict[str, str] = case["expected"]
        for network in set(got) | set(want):
            if got.get(network) and got.get(network) == want.get(network):
                tp[network] += 1
            else:
                if network in got:
                    fp[network] += 1
                if network in want:
                    fn[network] += 1
    table: dict[str, tuple[float, float, float, int]] = {}
    for network in [*sorted(set(tp) | set(fp) | set(fn)), "ALL"]:
        t = sum(tp.values()) if network == "ALL" else tp[network]
        f_p = sum(fp.values()) if network == "ALL" else fp[network]
        f_n = sum(fn.values()) if network == "ALL" else fn[network]
        precision = t / (t + f_p) if t + f_p else 1.0
        recall = t / (t + f_n) if t + f_n else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[network] = (precision, recall, f1, t + f_n)
    print(f"quality on {len(cases)} fixture pages (per network: precision recall F1 support)")
    for network, (p, r, f, support) in table.items():
        print(f"  {network:10s} P={p:.3f} R={r:.3f} F1={f:.3f} n={support}")
    return table


# --- 2. extractor speed -----------------------------------------------------------------------

_FILLER_WORDS = [
    "our",
    "team",
    "local",
    "family",
    "quality",
    "service",
    "since",
    "customers",
    "products",
    "design",
    "craft",
    "studio",
    "seasonal",
    "fresh",
    "delivery",
    "booking",
    "appointment",
    "gallery",
    "events",
    "news",
    "about",
    "contact",
    "menu",
]


def _filler(rng: random.Random, size: int) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(_FILLER_WORDS) for _ in range(40))
        block = (
            f'<div class="section"><h3>{words[:30]}</h3><p>{words}</p>'
            f'<a href="/page/{rng.randrange(1000)}">{words[:20]}</a></div>\n'
        )
        parts.append(block)
        total += len(block)
    return "".join(parts)


def extractor_speed(seconds: float = 5.0) -> float:
    from socialcrm.discovery.extract import extract_profiles

    rng = random.Random(7)
    cases = json.loads((PAGES / "expected.json").read_text())
    pages: list[tuple[str, str, str]] = []
    for case in cases:
        html = (PAGES / case["file"]).read_text()
        body_at = html.find("<body")
        insert_at = html.find(">", body_at) + 1 if body_at >= 0 else 0
        padded = html[:insert_at] + _filler(rng, 50_000 - len(html)) + html[insert_at:]
        pages.append((padded, case["site"], case["name"]))
    sizes = [len(p[0].encode()) for p in pages]
    count = 0
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for html, site, name in pages:
            start = time.perf_counter()
            extract_profiles(html, site, name)
            latencies.append(time.perf_counter() - start)
            count += 1
    elapsed = sum(latencies)
    rate = count / elapsed
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    print(
        f"extractor: {rate:,.0f} pages/s on one core (mean), {1 / p50:,.0f} pages/s at the"
        f" median; pages {statistics.mean(sizes) / 1024:.1f} KB avg; latency p50"
        f" {p50 * 1e3:.2f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms"
        f" ({count} pages; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    return rate


# --- 3. the farm ------------------------------------------------------------------------------


def farm_address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


def farm_truth(index: int) -> dict[str, str]:
    """What site ``index`` carries (and so what the job must find)."""
    kind = index % 10
    slug = f"farmco{index}"
    if kind in (8, 9):
        return {}  # nothing, or a 404 homepage
    truth = {
        "facebook": f"https://www.facebook.com/{slug}",
        "instagram": f"https://www.instagram.com/{slug}",
    }
    if kind in (1, 4):
        truth["linkedin"] = f"https://www.linkedin.com/company/{slug}"
    if kind in (2, 5):
        truth["x"] = f"https://x.com/fc{index}"
        truth["youtube"] = f"https://www.youtube.com/@{slug}"
    if kind == 3:
        truth["tiktok"] = f"https://www.tiktok.com/@{slug}"
    return truth


_URLS = {
    "facebook": "https://www.facebook.com/{h}?ref=footer",
    "instagram": "https://instagram.com/{h}/",
    "linkedin": "https://www.linkedin.com/company/{h}/about/",
    "x": "https://twitter.com/{h}",
    "youtube": "https://www.youtube.com/@{h}/videos",
    "tiktok": "https://www.tiktok.com/@{h}?lang=en",
}


def farm_page(index: int, path: str, filler: str) -> tuple[int, str]:
    kind = index % 10
    truth = farm_truth(index)
    name = f"Farm Company {index}"
    share = (
        '<div class="share"><a href="https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2F'
        f'site{index}.example">Share</a> <a href="https://twitter.com/intent/tweet?text=hi">'
        "Tweet</a></div>"
    )
    links = "".join(
        f'<li><a href="{_URLS[n].format(h=u.rstrip("/").rsplit("/", 1)[1].lstrip("@"))}" '
        f'aria-label="{n}">{n}</a></li>'
        for n, u in truth.items()
    )
    social = f'<ul class="social-links">{links}</ul>'
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>"
    nav = (
        f'<header><a href="/">{name}</a><nav><a href="/services">Services</a>'
        '<a href="/contact">Contact</a><a href="/about">About</a></nav></header>'
    )
    if path == "/contact" and kind == 7:
        return (
            200,
            f"{head}</head><body>{nav}<main><h1>Contact</h1></main><footer>{social}</footer></body></html>",
        )
    if path != "/":
        return 404, "<html><body>not found</body></html>"
    if kind == 9:
        return 404, "<html><body>gone</body></html>"
    if kind == 6:
        same = json.dumps(list(truth.values()))
        ld = (
            '<script type="application/ld+json">{"@context":"https://schema.org",'
            f'"@type":"Organization","name":"{name}","sameAs":{same}}}</script>'
        )
        return 200, f"{head}{ld}</head><body>{nav}<main>{filler}</main></body></html>"
    footer = "" if kind in (7, 8) else social
    body_extra = share if kind == 8 else ""
    return 200, (
        f"{head}</head><body>{nav}<main>{filler}{body_extra}</main>"
        f"<footer class='site-footer'>{footer}<p>&copy; {name}</p></footer></body></html>"
    )


class _FarmProtocol(asyncio.Protocol):
    filler = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        host = transport.get_extra_info("sockname")[0]
        parts = [int(p) for p in host.split(".")]
        self.index = parts[2] * 250 + parts[3] - 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            path = line.split(" ")[1].split("?", 1)[0] if " " in line else "/"
            if path == "/robots.txt":
                status, body = 200, "User-agent: *\nDisallow: /private/\n"
                ctype = "text/plain"
            else:
                status, body = farm_page(self.index, path, self.filler)
                ctype = "text/html; charset=utf-8"
            data_out = body.encode()
            reason = "OK" if status == 200 else "Not Found"
            self.transport.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data_out)}\r\n\r\n".encode()
                + data_out
            )


async def _serve_farm(count: int, port: int) -> None:
    _FarmProtocol.filler = _filler(random.Random(3), 30_000)
    loop = asyncio.get_running_loop()
    servers = []
    for index in range(count):
        servers.append(
            await loop.create_server(_FarmProtocol, farm_address(index), port, backlog=64)
        )
    print("ready", flush=True)
    await asyncio.Event().wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def farm_job(count: int) -> None:
    port = _free_port()
    farm = subprocess.Popen(
        [sys.executable, __file__, "--farm-server", str(count), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert farm.stdout is not None
        if farm.stdout.readline().strip() != "ready":
            raise SystemExit("the farm did not start")
        _job_through_api(count, port)
    finally:
        farm.kill()
        farm.wait()


def _job_through_api(count: int, port: int) -> None:
    data_dir = tempfile.mkdtemp(prefix="socialcrm-bench-discovery-")
    env = {
        **os.environ,
        "SOCIALCRM_DATA_DIR": data_dir,
        "SOCIALCRM_ALLOW_PRIVATE_FETCH": "127.0.0.0/8",
        "SOCIALCRM_LOG_FORMAT": "json",
    }
    for key in ("SOCIALCRM_DATABASE_URL", "SOCIALCRM_QUEUE_URL", "SOCIALCRM_IMMEDIATE_QUEUE"):
        env.pop(key, None)
    subprocess.run([BIN / "socialcrm", "migrate"], env=env, check=True, capture_output=True)
    key = (
        subprocess.run(
            [BIN / "socialcrm", "api-key", "create", "--tenant", "bench", "--create-tenant"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    api_port = _free_port()
    server = subprocess.Popen(
        [BIN / "socialcrm", "serve", "--port", str(api_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        _wait_for(base)
        items = [
            {"name": f"Farm Company {i}", "site_web": f"http://{farm_address(i)}:{port}/", "row": i}
            for i in range(count)
        ]
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            start = time.perf_counter()
            created = client.post("/api/jobs/socials", json={"items": items})
            created.raise_for_status()
            job_id = created.json()["id"]
            events = 0
            first_progress = None
            with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=None) as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: progress"):
                        events += 1
                        first_progress = first_progress or time.perf_counter() - start
                    if line.startswith(("event: completed", "event: failed")):
                        break
            elapsed = time.perf_counter() - start
            state = client.get(f"/api/jobs/{job_id}").json()
            results = client.get(f"/api/jobs/{job_id}/results?format=csv").text
        rows = list(csv.DictReader(io.StringIO(results)))
        _report_farm(count, elapsed, events, first_progress, state, rows, server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_for(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("socialcrm serve did not start")


def _report_farm(
    count: int,
    elapsed: float,
    events: int,
    first_progress: float | None,
    state: dict[str, Any],
    rows: list[dict[str, str]],
    pid: int,
) -> None:
    columns = {
        "facebook": "social_facebook",
        "instagram": "social_instagram",
        "linkedin": "social_linkedin",
        "x": "social_twitter",
        "tiktok": "social_tiktok",
        "youtube": "social_youtube",
    }
    exact = 0
    for row in rows:
        truth = farm_truth(int(row["row"]))
        got = {n: row[c] for n, c in columns.items() if row[c]}
        exact += got == truth
    print(
        f"farm: {count} sites through POST /api/jobs/socials in {elapsed:.1f} s "
        f"= {count / elapsed:,.0f} sites/s; status {state['status']}; "
        f"processed {state['processed_count']}, found {state['found_count']}, "
        f"failed {state['failed_count']} {state['failures']['by_reason']}"
    )
    print(
        f"farm: {events} SSE progress events (first after {first_progress or 0:.2f} s); "
        f"results exact for {exact}/{len(rows)} sites; "
        f"server peak RSS {_peak_rss_mb(pid):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--skip-farm", action="store_true")
    parser.add_argument("--farm-server", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=FARM_PORT_BASE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.farm_server:
        asyncio.run(_serve_farm(args.farm_server, args.port))
        return
    quality()
    extractor_speed()
    if not args.skip_farm:
        farm_job(args.sites)


if __name__ == "__main__":
    main()
