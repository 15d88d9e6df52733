"""A real ``socialcrm worker`` process to kill with SIGKILL, and a wait for what it leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from socialcrm.core.settings import get_settings

SOCIALCRM = Path(sys.executable).with_name("socialcrm")
T = TypeVar("T")


def worker_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a worker on another machine would be given: the same database, queue and keys."""
    settings = get_settings()
    return os.environ | {
        "SOCIALCRM_DATABASE_URL": database_url,
        "SOCIALCRM_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
        "SOCIALCRM_DATA_DIR": str(tmp_path),
        "SOCIALCRM_SECRET_KEYS": ",".join(settings.secret_keys),
        "SOCIALCRM_IMMEDIATE_QUEUE": "false",
        "SOCIALCRM_LOG_FORMAT": "json",
        "SOCIALCRM_TASK_LEASE_S": "3",
        **extra,
    }


class Workers:
    """Start workers; ``kill9`` the current one the hard way."""

    def __init__(self, env: dict[str, str], log: IO[str]) -> None:
        self.env, self.log = env, log
        self.current: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.current = subprocess.Popen(
            [str(SOCIALCRM), "worker", "--workers", "2"],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def kill9(self) -> None:
        assert self.current is not None
        os.kill(self.current.pid, signal.SIGKILL)
        self.current.wait(10)
        self.current = None


@contextmanager
def workers(env: dict[str, str], log_path: Path) -> Iterator[Workers]:
    with log_path.open("w") as log:
        running = Workers(env, log)
        try:
            yield running
        finally:
            if running.current is not None:
                running.current.kill()
                running.current.wait(10)


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Poll ``probe`` until ``done`` holds; fail with the last state seen."""
    deadline = time.monotonic() + timeout
    state = probe()
    while not done(state):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out at {state}")
        time.sleep(0.05)
        state = probe()
    return state
