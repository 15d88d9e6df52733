"""What ``GET /health`` reports: each dependency the service needs, checked now."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from socialcrm.core.db import get_database
from socialcrm.core.errors import outage_of


def check_database() -> None:
    with get_database().engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def check_queue() -> None:
    """The queue answers (Redis: one round trip; the embedded queue: its file is readable).
    Every bounded by the connection timeouts of ``core/db.py`` and ``core/queue.py``."""
    from socialcrm.core.queue import huey

    huey.storage.queue_size()


CHECKS = {"database": check_database, "queue": check_queue}


def dependencies() -> tuple[bool, dict[str, Any]]:
    """``(all up, {name: {"status": "ok"} or {"status": "unavailable", "error": …}})``."""
    report: dict[str, Any] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            if outage_of(exc) is None:
                raise
            report[name] = {"status": "unavailable", "error": type(exc).__name__}
        else:
            report[name] = {"status": "ok"}
    return all(r["status"] == "ok" for r in report.values()), report
