#!/usr/bin/env python3
"""Screenshots of the main pages, taken from a fresh demo, into docs/screenshots/*.png.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--width 1366]

Starts ``socialcrm serve --demo`` on free ports with a throw-away data directory, logs in as
the demo admin in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM), and shoots each
page of PAGES: the first screen at 1366 x 860. A page the server does not have (404) is skipped
and said, so the list may name pages that other branches add. Needs nothing beyond the dev
dependencies (Playwright's Python package).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# The pages, in the order of the README's tour: (file name, path). ``{contact}`` and the like
# are the id of the first record of that kind the demo has (read through the API).
PAGES: tuple[tuple[str, str], ...] = (
    ("contacts", "/contacts"),
    ("contact", "/contacts/{contact}"),
    ("accounts", "/accounts"),
    ("account", "/accounts/{account}"),
    ("connections", "/connections"),
    ("inbox", "/listening/inbox"),
    ("listening-rules", "/listening/rules"),
    ("tickets", "/tickets"),
    ("ticket", "/tickets/{ticket}"),
    ("leads", "/leads"),
    ("lead", "/leads/{lead}"),
    ("campaigns", "/campaigns"),
    ("campaign", "/campaigns/{campaign}"),
    ("publishing", "/publishing"),
    ("publishing-calendar", "/publishing/calendar?view=week"),
    ("emails", "/emails"),
    ("enrichment", "/enrichment"),
    ("discovery-jobs", "/discovery/jobs"),
    ("identity-reviews", "/identity/reviews"),
    ("notifications", "/notifications"),
    ("admin", "/admin"),
    ("audit", "/admin/audit"),
)
# Where each placeholder's id is read: the first record an API list answers (the demo's
# richest records: a customer with email suggestions, a Ticket with its Contact).
RECORDS = {
    "contact": "/api/contacts?q=Maya",
    "account": "/api/accounts?q=Fjordline",
    "ticket": "/api/tickets?queue=priority",
    "lead": "/api/leads",
    "campaign": "/api/campaigns",
}
LOGIN_EMAIL = "admin@acme.test"
LOGIN_PASSWORD = "socialcrm-demo"  # noqa: S105 - the demo's published password


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo_server(data_dir: Path) -> Iterator[tuple[str, str]]:
    """``socialcrm serve --demo`` until /health answers; yields (base URL, API key)."""
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
    env |= {"SOCIALCRM_DATA_DIR": str(data_dir), "SOCIALCRM_LOG_FORMAT": "json"}
    log_path = data_dir / "serve.log"
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "socialcrm.cli", "serve", "--demo", "--port", str(port)]
        process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments we made
            [*command, "--sandbox-port", str(sandbox_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if process.poll() is not None:
                    sys.exit(f"the demo server exited:\n{log_path.read_text()}")
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit(f"the demo server did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
            key = re.search(r"API key\s+(scrm_\S+)", log_path.read_text())
            if key is None:
                sys.exit(f"no API key in the demo's banner:\n{log_path.read_text()}")
            yield base, key[1]
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def record_ids(base: str, key: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
        for name, path in RECORDS.items():
            answer = api.get(path)
            items = answer.json().get("items", []) if answer.status_code == 200 else []
            if items:
                ids[name] = str(items[0]["id"])
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1366)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="socialcrm-shots-") as tmp,
        demo_server(Path(tmp)) as (base, key),
        sync_playwright() as pw,
    ):
        ids = record_ids(base, key)
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"{base}/login")
        page.get_by_label("Email").fill(LOGIN_EMAIL)
        page.get_by_label("Password").fill(LOGIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/contacts")
        for name, template in PAGES:
            try:
                path = template.format(**ids)
            except KeyError as missing:
                print(f"skip {name}: the demo has no {missing.args[0]}")
                continue
            answer = page.goto(f"{base}{path}")
            if answer is None or answer.status == 404:
                print(f"skip {name}: {path} is not a page here")
                continue
            page.wait_for_load_state("load")  # not "networkidle": live pages keep SSE open
            page.wait_for_timeout(300)  # the live rows, the SLA clock
            target = args.out / f"{name}.png"
            page.screenshot(path=str(target))
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        browser.close()


if __name__ == "__main__":
    main()
