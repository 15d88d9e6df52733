"""``socialcrm identity …``: backfill the identity graph, resolve one sender."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select

from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError
from socialcrm.tenancy.models import Tenant

identity_app = typer.Typer(
    help="Identity resolution: the social identity graph.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


def _tenant_id(name: str) -> int:
    with get_database().session(system=True) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == name.strip()))
    if tenant_id is None:
        err.print(f"[red]error:[/red] no tenant named {name!r}")
        raise typer.Exit(code=2)
    return int(tenant_id)


@identity_app.command("sync")
def sync(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Contacts per transaction.")] = 500,
) -> None:
    """Link every Contact's handles into the identity graph (run once after upgrading)."""
    from socialcrm.identity import service

    tenant_id = _tenant_id(tenant)
    db = get_database()
    with db.session(tenant_id=tenant_id) as session:
        ids = service.contact_ids_with_handles(session, tenant_id)
    linked = 0
    with Progress(console=out) as progress:
        task = progress.add_task("linking handles", total=len(ids))
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with db.session(tenant_id=tenant_id) as session:
                linked += service.sync_contacts(session, tenant_id, chunk)
            progress.advance(task, len(chunk))
    out.print(f"{linked} handles of {len(ids)} contacts are in the identity graph")


@identity_app.command("resolve")
def resolve(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    handle: Annotated[str, typer.Argument(help="Handle or profile URL.")],
    channel: Annotated[str, typer.Option(help="x, mastodon, bluesky, …")],
    user_id: Annotated[str | None, typer.Option(help="The platform's user id.")] = None,
) -> None:
    """Resolve one sender and print the answer as JSON."""
    from pydantic import ValidationError

    from socialcrm.identity import service
    from socialcrm.identity.schemas import ResolveIn

    tenant_id = _tenant_id(tenant)
    try:
        request = ResolveIn(handle=handle, channel=channel, user_id=user_id)
        with get_database().session(tenant_id=tenant_id) as session:
            answer = service.resolve(session, tenant_id, request, actor="cli")
    except ValidationError as exc:
        err.print(f"[red]error:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(code=2) from None
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=2) from None
    out.print_json(answer.model_dump_json())
