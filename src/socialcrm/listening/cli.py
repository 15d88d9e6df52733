"""``socialcrm listening …``: poll connected accounts now (or keep polling, for low latency),
and escalate overdue first responses now."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from socialcrm.core.terminal import open_database, out

if TYPE_CHECKING:
    from socialcrm.core.db import Database

app = typer.Typer(help="Social listening.", no_args_is_help=True)


@app.command("poll")
def poll(
    watch: Annotated[bool, typer.Option(help="Keep polling until interrupted.")] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between rounds.")] = 5.0,
) -> None:
    """Poll every active connected account's mentions since its cursor, once or repeatedly."""
    db = open_database()
    while True:
        _one_round(db, keep=watch)
        if not watch:
            return
        time.sleep(interval)


def _one_round(db: Database, *, keep: bool) -> None:
    from rich.progress import Progress

    from socialcrm.listening import ingestion

    accounts = ingestion.accounts_to_poll(db)
    with Progress(console=out, transient=not keep) as progress:
        task = progress.add_task("polling accounts", total=len(accounts))
        stored = ingestion.poll_everything(db, on_done=lambda _o: progress.advance(task))
    out.print(f"{len(accounts)} account(s) polled, {stored} new mention(s) stored")


@app.command("check-sla")
def check_sla() -> None:
    """Escalate every open Ticket whose first response is overdue now (the worker does this
    every minute); a Ticket is never escalated twice."""
    db = open_database()  # first: importing the queue would create a data directory
    from socialcrm.listening import escalation

    escalated = escalation.escalate_everywhere(db)
    out.print(f"{escalated} ticket(s) escalated for an overdue first response")
