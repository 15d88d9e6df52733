"""``socialcrm emails import FILE.eml|FILE.mbox`` and ``socialcrm emails sync``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from socialcrm.core.terminal import err, fail, open_database, out
from socialcrm.tenancy.cli import tenant_id

if TYPE_CHECKING:
    from rich.progress import Progress

emails_app = typer.Typer(help="Take in email and enrich Contacts from it.", no_args_is_help=True)


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )


@emails_app.command("import")
def import_emails(
    path: Annotated[Path, typer.Argument(help="An .eml file or an .mbox mailbox.")],
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant name.")],
    ticket: Annotated[bool, typer.Option(help="Create a ticket from each message.")] = False,
) -> None:
    """Take in one message or a whole mbox; damaged messages are reported, not fatal."""
    if not path.is_file():
        fail(f"{path} is not a file")
    db = open_database()  # first: importing the queue would create a data directory
    tenant = tenant_id(tenant_name)
    from socialcrm.core.errors import ValidationFailed
    from socialcrm.signatures import intake
    from socialcrm.signatures.mime import count_mbox, iter_mbox

    is_mbox = path.suffix.lower() == ".mbox" or _starts_like_mbox(path)
    try:
        total = count_mbox(path) if is_mbox else 1
        messages = iter_mbox(path) if is_mbox else iter([path.read_bytes()])
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    stored = duplicates = failed = 0
    with _progress() as progress:
        task = progress.add_task(f"importing {path.name}", total=total)
        for index, raw in enumerate(messages, start=1):
            try:
                with db.session(tenant_id=tenant) as session:
                    result = intake.ingest(
                        session, tenant, raw, source="import", create_ticket=ticket
                    )
                    stored += int(result.created)
                    duplicates += int(not result.created)
            except ValidationFailed as exc:
                failed += 1
                err.print(f"message {index}: {exc.message}")
            progress.advance(task)
    out.print(f"{stored} stored, {duplicates} already known, {failed} not readable")
    if stored == 0 and failed:
        raise typer.Exit(code=1)


def _starts_like_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


@emails_app.command("sync")
def sync(
    account: Annotated[int, typer.Option(help="IMAP account id.")],
) -> None:
    """Sync one IMAP mailbox now, with a progress bar."""
    db = open_database()  # first: importing the queue would create a data directory
    from socialcrm.core.errors import AppError
    from socialcrm.signatures.imap import sync_account

    with _progress() as progress:
        task = progress.add_task(f"syncing mailbox {account}", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = sync_account(db, account, progress=step)
        except AppError as exc:
            fail(exc.message, code=1)
    out.print(
        f"{result.stored} stored, {result.failed} failed, {result.skipped} skipped,"
        f" last UID {result.last_uid}"
    )
    if result.failed:
        out.print("failed messages: GET /api/emails?failed=true, or the Emails page")
