"""The AT Protocol reference network (PLC, PDS, AppView from ``@atproto/dev-env``), once per
test session, driven by ``network.mjs`` on the machine's PostgreSQL (its own schemas) and Redis.

Runs in the PostgreSQL + Redis pass (``SOCIALCRM_TEST_POSTGRES_URL``,
``SOCIALCRM_TEST_REDIS_URL`` set) and is skipped in the SQLite pass. There it needs Node.js
and the npm packages; in CI a missing piece fails instead of skipping. The npm packages are
installed by ``scripts/ensure-atproto-network.sh`` into ``tests/atproto/node_modules``
(ignored, cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import unavailable

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
STARTUP_TIMEOUT_S = 240.0
SHUTDOWN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class AtprotoNetwork:
    pds: str
    appview: str
    control: str
    plc: str

    def process(self) -> None:
        """Flush the PDS firehose into the AppView (what its subscription does continuously)."""
        httpx.post(f"{self.control}/process", timeout=60.0).raise_for_status()


def _redis_host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: Queue[str] = Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except Empty:
        return ""


@pytest.fixture(scope="session")
def atproto_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtprotoNetwork]:
    pg_url = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "")
    redis_url = os.environ.get("SOCIALCRM_TEST_REDIS_URL", "")
    if not pg_url or not redis_url:
        # The reference network stores in PostgreSQL and Redis, so these tests belong to the
        # PostgreSQL + Redis pass (`make test-sqlite` does not collect them).
        unavailable("SOCIALCRM_TEST_POSTGRES_URL and SOCIALCRM_TEST_REDIS_URL")
    if shutil.which("node") is None:
        unavailable("Node.js")
    install = subprocess.run(
        [str(ROOT / "scripts" / "ensure-atproto-network.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0 or not (HERE / "node_modules" / "@atproto" / "dev-env").is_dir():
        unavailable(f"@atproto/dev-env (npm install failed: {install.stderr[-2000:]})")
    log_path = tmp_path_factory.mktemp("atproto") / "network.log"
    env = {
        **os.environ,
        "DB_POSTGRES_URL": pg_url.replace("+psycopg", ""),
        "REDIS_HOST": _redis_host(redis_url),
        "LOG_ENABLED": "false",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["node", str(HERE / "network.mjs")],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            line = _first_line(process, STARTUP_TIMEOUT_S)
            if not line:
                process.kill()
                pytest.fail(f"the atproto network did not start: {log_path.read_text()[-3000:]}")
            info: dict[str, Any] = json.loads(line)
            yield AtprotoNetwork(info["pds"], info["appview"], info["control"], info["plc"])
        finally:
            if process.stdin is not None:
                process.stdin.close()  # network.mjs closes the network and drops its schemas
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
