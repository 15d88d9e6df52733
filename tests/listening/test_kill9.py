"""kill -9 a real ``socialcrm worker`` mid-POST of outbound webhooks: a new worker sends what
the dead one held once its lease runs out, and each delivery ends delivered exactly once
(SQLite queue; SQLite or PostgreSQL database)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from socialcrm.core.db import Database, utcnow
from socialcrm.listening.models import WebhookDelivery, WebhookSubscription
from socialcrm.tenancy.service import get_or_create_tenant
from tests.conftest import committed_database
from tests.worker_process import wait_for, worker_env, workers

DELIVERIES = 12


class SlowReceiver(BaseHTTPRequestHandler):
    """Takes half a second to answer, so a kill lands while a POST is in flight."""

    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(self.headers["X-SocialCRM-Delivery"])
        time.sleep(0.5)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def slow_receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowReceiver)
    SlowReceiver.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def _states(db: Database) -> Counter[str]:
    with db.session(system=True) as session:
        rows = session.execute(select(WebhookDelivery.status, WebhookDelivery.lease_until))
        return Counter("sending" if until and s == "pending" else s for s, until in rows)


def test_a_killed_worker_mid_post_delivers_each_webhook_once(
    slow_receiver: str, tmp_path: Path
) -> None:
    with committed_database(tmp_path, "kill_webhooks") as (db, url):
        with db.session(system=True) as session:
            tenant_id = get_or_create_tenant(session, "Kill Webhooks").id
        with db.session(tenant_id=tenant_id) as session:
            sub = WebhookSubscription(url=slow_receiver, secret="s3cret", events=["*"])
            session.add(sub)
            session.flush()
            # Deliveries whose tasks are gone (a queue that lost them): found at start.
            session.add_all(
                WebhookDelivery(
                    subscription_id=sub.id,
                    event="lead.created",
                    event_key=f"lead:{n}",
                    payload={"n": n},
                    created_at=utcnow() - timedelta(minutes=5),
                )
                for n in range(DELIVERIES)
            )
        env = worker_env(url, tmp_path, SOCIALCRM_ALLOW_PRIVATE_FETCH="127.0.0.1/32")
        with workers(env, tmp_path / "worker.log") as running:
            running.start()
            wait_for(lambda: _states(db), lambda s: s["delivered"] >= 3 and s["sending"] >= 1, 90)
            running.kill9()
            at_kill = _states(db)
            assert at_kill["sending"] >= 1  # leased by the dead worker
            running.start()
            wait_for(lambda: _states(db), lambda s: s["delivered"] == DELIVERIES, 120)
        with db.session(system=True) as session:
            rows = list(session.scalars(select(WebhookDelivery)))
    assert {(r.status, r.attempts, r.lease_owner) for r in rows} == {("delivered", 1, None)}
    seen = Counter(SlowReceiver.seen)
    assert set(seen) == {str(r.id) for r in rows}  # every delivery arrived
    # Only a POST in flight at the kill may arrive twice, with its delivery id to dedupe on.
    assert sum(seen.values()) - DELIVERIES <= at_kill["sending"]
