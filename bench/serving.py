"""What the HTTP benchmarks share: a free loopback port, `socialcrm serve` in a child process
(ready when /health answers), and that process's peak memory."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """The API without its queue worker, logging JSON to nowhere, ready to take requests.
    ``workers`` above 1 needs ``SOCIALCRM_QUEUE_URL=redis://…`` in ``env``."""
    command = ["serve", "--port", str(port), "--no-worker", "--workers", str(workers)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialcrm.cli", *command],
        env=env | {"SOCIALCRM_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180  # a busy machine imports slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}: {command}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not answer /health within 180 s: {command}")


def rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a running process and its children, in MB."""
    total = 0.0
    for process in [pid, *children(pid)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found
