"""``socialcrm identity …``: backfill the identity graph, resolve one sender."""

from __future__ import annotations

from typing import Annotated

import typer

from socialcrm.core.terminal import fail, open_database, out
from socialcrm.tenancy.cli import tenant_id

identity_app = typer.Typer(
    help="Identity resolution: the social identity graph.", no_args_is_help=True
)


@identity_app.command("sync")
def sync(
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Contacts per transaction.")] = 500,
) -> None:
    """Link every Contact's handles into the identity graph (run once after upgrading)."""
    db = open_database()  # first: importing the queue would create a data directory
    tenant = tenant_id(tenant_name)
    from rich.progress import Progress

    from socialcrm.identity import backfill

    with db.session(tenant_id=tenant) as session:
        ids = backfill.contact_ids_with_handles(session, tenant)
    linked = 0
    with Progress(console=out) as progress:
        task = progress.add_task("linking handles", total=len(ids))
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with db.session(tenant_id=tenant) as session:
                linked += backfill.sync_contacts(session, tenant, chunk)
            progress.advance(task, len(chunk))
    out.print(f"{linked} handles of {len(ids)} contacts are in the identity graph")


@identity_app.command("resolve")
def resolve(
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    handle: Annotated[str, typer.Argument(help="Handle or profile URL.")],
    channel: Annotated[str, typer.Option(help="x, mastodon, bluesky, …")],
    user_id: Annotated[str | None, typer.Option(help="The platform's user id.")] = None,
) -> None:
    """Resolve one sender and print the answer as JSON."""
    tenant = tenant_id(tenant_name)
    from pydantic import ValidationError

    from socialcrm.identity import resolve as resolving
    from socialcrm.identity.schemas import ResolveIn

    try:
        request = ResolveIn(handle=handle, channel=channel, user_id=user_id)
    except ValidationError as exc:
        fail(str(exc.errors()[0]["msg"]))
    with open_database().session(tenant_id=tenant) as session:
        answer = resolving.resolve(session, tenant, request, actor="cli")
    out.print_json(answer.model_dump_json())
