"""``socialcrm audit list``: a tenant's audit log at the terminal, or as CSV."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from socialcrm.core.terminal import open_database, print_rows
from socialcrm.tenancy.cli import tenant_id

audit_app = typer.Typer(help="Read the audit log.", no_args_is_help=True)


@audit_app.command("list")
def audit_list(
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    actor: Annotated[str | None, typer.Option(help="user:3, api_key:7, system, cli")] = None,
    action: Annotated[str | None, typer.Option(help="An action, or a prefix: identity.*")] = None,
    target: Annotated[str | None, typer.Option(help="A type (ticket) or type:id")] = None,
    since: Annotated[str | None, typer.Option("--from", help="ISO 8601 date or time.")] = None,
    until: Annotated[str | None, typer.Option("--to", help="ISO 8601; a date: its end.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest entries shown.")] = 50,
    as_csv: Annotated[bool, typer.Option("--csv", help="Every match, as CSV on stdout.")] = False,
) -> None:
    """The tenant's audit log, newest first."""
    from socialcrm.audit import service
    from socialcrm.audit.filters import parse_filter

    where = parse_filter(actor=actor, action=action, target=target, since=since, until=until)
    database = open_database()
    tenant = tenant_id(tenant_name)
    if as_csv:
        for chunk in service.csv_lines(database, tenant, where):
            sys.stdout.write(chunk)
        return
    with database.session(tenant_id=tenant) as session:
        page = service.list_page(session, where, limit=limit)
        rows = [
            (
                e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                f"{e.target_type}:{e.target_id}",
            )
            for e in page.items
        ]
    print_rows(("when (UTC)", "actor", "action", "target"), rows)
