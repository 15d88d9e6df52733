"""``socialcrm enrich …``: start an enrichment run and follow it with a progress bar."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from socialcrm.core.terminal import err, fail, open_database
from socialcrm.tenancy.cli import tenant_id

if TYPE_CHECKING:
    from socialcrm.core.db import Database
    from socialcrm.enrichment.models import EnrichmentRun

enrich_app = typer.Typer(help="Enrich Contacts with public social profiles.", no_args_is_help=True)


def _state(db: Database, tenant_id: int, run_id: int) -> EnrichmentRun:
    from socialcrm.enrichment import runs

    with db.session(tenant_id=tenant_id) as session:
        run = runs.get_run(session, run_id)
        session.expunge(run)
        return run


@enrich_app.command("run")
def run_command(
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = False,
    inline: Annotated[
        bool, typer.Option(help="Do the work in this process instead of the queue workers.")
    ] = False,
) -> None:
    """Start an enrichment run over every Contact of the tenant (or join the one under way)."""
    db = open_database()  # first: importing the queue would create a data directory
    tenant = tenant_id(tenant_name)
    from socialcrm.core.errors import AppError
    from socialcrm.enrichment import runs

    try:
        with db.session(tenant_id=tenant) as session:
            runs.ensure_startable(session)
            run, new = runs.create_run(session, trigger="manual", actor="cli")
            run_id = run.id
    except AppError as exc:
        fail(exc.message)
    err.print(f"enrichment run {run_id} {'started' if new else 'already under way'}")
    if new and not inline:
        from socialcrm.enrichment.tasks import run_enrichment

        run_enrichment(tenant, run_id)
    if inline or wait:
        final = _follow(db, tenant, run_id, inline)
        err.print(
            f"run {run_id} {final.status}: {final.processed} processed, {final.linked} linked, "
            f"{final.suggested} suggested, {final.stale} stale, {final.failed} failed"
        )
        if final.status != "completed":
            raise typer.Exit(code=1)
    print(run_id)


def _follow(db: Database, tenant_id: int, run_id: int, inline: bool) -> EnrichmentRun:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from socialcrm.core.db import utcnow
    from socialcrm.enrichment import runs
    from socialcrm.enrichment.models import ACTIVE_RUN_STATUSES

    columns = (
        TextColumn("[bold]enrich[/bold] {task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("linked {task.fields[linked]} · suggested {task.fields[suggested]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as progress:
        state = _state(db, tenant_id, run_id)
        bar = progress.add_task("run", total=state.total or None, status="", linked=0, suggested=0)
        while True:
            state = _state(db, tenant_id, run_id)
            progress.update(
                bar,
                completed=state.processed,
                status=state.status,
                linked=state.linked,
                suggested=state.suggested,
            )
            if state.status not in ACTIVE_RUN_STATUSES:
                return state
            if inline:
                step = runs.process_run(db, tenant_id, run_id)
                if step.eta is not None:  # a foreground command may wait; workers never do
                    time.sleep(max((step.eta - utcnow()).total_seconds(), 0) + 0.05)
            else:
                time.sleep(0.5)
