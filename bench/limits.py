"""Request limits: what four concurrent 100 MB unauthenticated bodies cost the server.

Runs the app under uvicorn in a child process on SQLite twice, with the request limits
(``web/limits.py``) and without them (the same app with that middleware taken out), and from
four threads POSTs a JSON body of ``--mb`` MB to ``/api/contacts`` without a key (announced by
``Content-Length``, then chunked), each as fast as the loopback takes it until the server
answers. Prints per run the answers, how much of the bodies was sent before the answer, the
time to the last answer, and the server's peak memory (RSS) above its idle peak. A refused
body is not read and its connection closed, so a client still sending may see a reset rather
than the answer (clients that send large bodies should send ``Expect: 100-continue``).

    .venv/bin/python bench/limits.py [--mb 100] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
from serving import free_port, rss_mb

SERVE = """
import sys, uvicorn
from socialcrm.app import create_app
from socialcrm.web.limits import RequestLimits
app = create_app()
if sys.argv[2] == "without":
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestLimits]
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""
PIECE = b"x" * (256 * 1024)


def start(env: dict[str, str], port: int, variant: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port), variant],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def post_unauthenticated(port: int, size: int, framing: str, results: list[Answer]) -> None:
    """Send a ``size``-byte JSON body until the server answers; record what came back."""
    opening, closing = b'{"name": "', b'"}'
    length = f"Content-Length: {size}" if framing == "length" else "Transfer-Encoding: chunked"
    head = (
        "POST /api/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{length}\r\n\r\n"
    ).encode()

    def framed(data: bytes) -> bytes:
        return data if framing == "length" else b"%x\r\n%s\r\n" % (len(data), data)

    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        sock.sendall(head + framed(opening))
        sent = len(opening)
        try:
            while sent < size - len(closing):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered: stop sending
                piece = PIECE[: size - len(closing) - sent]
                sock.sendall(framed(piece))
                sent += len(piece)
            else:
                sock.sendall(framed(closing) + (b"" if framing == "length" else b"0\r\n\r\n"))
                sent += len(closing)
            answer = sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "reset"
    results.append(Answer(status, sent))


@dataclass(frozen=True)
class Answer:
    status: str  # "reset": the connection was reset before the answer could be read
    sent: int


def run(env: dict[str, str], variant: str, framing: str, size: int, clients: int) -> None:
    port = free_port()
    server = start(env, port, variant)
    try:
        idle = rss_mb(server.pid)
        results: list[Answer] = []
        threads = [
            threading.Thread(target=post_unauthenticated, args=(port, size, framing, results))
            for _ in range(clients)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        peak = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    answers = Counter(answer.status for answer in results)
    let_in = sum(answer.sent for answer in results) / 1e6
    print(
        f"  {variant:>7} limits: answers {dict(sorted(answers.items()))}, {let_in:,.1f} MB "
        f"sent before the answer, {elapsed:.2f} s, server peak RSS {peak:,.0f} MB "
        f"(+{peak - idle:,.0f} MB over idle)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
        env |= {"SOCIALCRM_DATA_DIR": tmp}
        subprocess.run(
            [sys.executable, "-m", "socialcrm.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        for framing in ("length", "chunked"):
            print(
                f"{args.clients} concurrent unauthenticated POST /api/contacts of {args.mb} MB "
                f"({'Content-Length' if framing == 'length' else 'chunked'}):"
            )
            for variant in ("without", "with"):
                run(env, variant, framing, args.mb * 1_000_000, args.clients)


if __name__ == "__main__":
    main()
