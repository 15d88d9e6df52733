"""``socialcrm enrich …``: start an enrichment run and follow it with a progress bar."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from socialcrm.core.db import Database, get_database, utcnow
from socialcrm.enrichment import runs
from socialcrm.enrichment.models import ACTIVE_RUN_STATUSES, EnrichmentRun
from socialcrm.tenancy.models import Tenant

enrich_app = typer.Typer(help="Enrich Contacts with public social profiles.", no_args_is_help=True)
err = Console(stderr=True)


def _tenant_id(db: Database, name: str) -> int:
    with db.session(system=True) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == name))
    if tenant_id is None:
        err.print(f"[red]error:[/red] no tenant named {name!r}")
        raise typer.Exit(code=2)
    return int(tenant_id)


def _state(db: Database, tenant_id: int, run_id: int) -> EnrichmentRun:
    with db.session(tenant_id=tenant_id) as session:
        run = runs.get_run(session, run_id)
        session.expunge(run)
        return run


@enrich_app.command("run")
def run_command(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = False,
    inline: Annotated[
        bool, typer.Option(help="Do the work in this process instead of the queue workers.")
    ] = False,
) -> None:
    """Start an enrichment run over every Contact of the tenant (or join the one under way)."""
    from socialcrm.core.errors import AppError

    db = get_database()
    tenant_id = _tenant_id(db, tenant)
    try:
        with db.session(tenant_id=tenant_id) as session:
            runs.ensure_startable(session)
            run, new = runs.create_run(session, trigger="manual", actor="cli")
            run_id = run.id
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=2) from exc
    err.print(f"enrichment run {run_id} {'started' if new else 'already under way'}")
    if new and not inline:
        from socialcrm.enrichment.tasks import run_enrichment

        run_enrichment(tenant_id, run_id)
    if inline or wait:
        final = _follow(db, tenant_id, run_id, inline)
        err.print(
            f"run {run_id} {final.status}: {final.processed} processed, {final.linked} linked, "
            f"{final.suggested} suggested, {final.stale} stale, {final.failed} failed"
        )
        if final.status != "completed":
            raise typer.Exit(code=1)
    print(run_id)


def _follow(db: Database, tenant_id: int, run_id: int, inline: bool) -> EnrichmentRun:
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
