"""The ``socialcrm`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from socialcrm.core.settings import get_settings
from socialcrm.enrichment.cli import enrich_app
from socialcrm.identity.cli import identity_app
from socialcrm.listening.cli import app as listening_app
from socialcrm.signatures.cli import emails_app
from socialcrm.tenancy.models import Role

# No locals in tracebacks: they may hold tokens, passwords and keys.
app = typer.Typer(
    help="socialcrm: the social layer of a CRM.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
api_key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
app.add_typer(user_app, name="user")
app.add_typer(listening_app, name="listening")
app.add_typer(emails_app, name="emails")
app.add_typer(enrich_app, name="enrich")
app.add_typer(identity_app, name="identity")
err = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from socialcrm.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    out.print(f"database is up to date ({_safe_url(settings.database_url)})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API and UI.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Start the sandbox and load demo data.")] = False,
    sandbox_port: Annotated[int, typer.Option(help="Port of the demo sandbox.")] = 8001,
    worker: Annotated[bool, typer.Option(help="Run the queue consumer in-process.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes. More than one needs a Redis queue (SOCIALCRM_QUEUE_URL): "
            "live events, identity cache invalidations and rate limits cross processes there.",
        ),
    ] = 1,
) -> None:
    """Run the API, the UI and (by default) an in-process queue worker."""
    import uvicorn

    from socialcrm.core.logging import configure_logging
    from socialcrm.migrations import upgrade

    settings = get_settings()
    if workers > 1 and not settings.queue_url.startswith(("redis://", "rediss://")):
        _fail(
            "--workers above 1 needs SOCIALCRM_QUEUE_URL=redis://…: live events, identity cache "
            "invalidations and rate limits are shared between the processes through Redis"
        )
    if "SOCIALCRM_BASE_URL" not in os.environ:
        settings.base_url = f"http://{host}:{port}"
    configure_logging(settings.log_format)
    upgrade(settings.database_url)
    if demo:
        _start_demo(settings, host, sandbox_port)
    consumer = None
    if worker:  # one consumer, in this process, however many server processes there are
        from socialcrm.core.queue import start_consumer

        consumer = start_consumer(settings.queue_workers)
    try:
        if workers == 1:
            from socialcrm.web.app import create_app

            uvicorn.run(create_app(), host=host, port=port, log_config=None, proxy_headers=False)
        else:  # the server processes read their settings from the environment
            from socialcrm.web import processes

            os.environ["SOCIALCRM_BASE_URL"] = settings.base_url
            os.environ["SOCIALCRM_SANDBOX_URL"] = settings.sandbox_url
            try:
                code = processes.serve(workers, host, port)
            except OSError as exc:
                _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            if code:
                _fail("a server process exited; all were stopped")
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


def _start_demo(settings: object, host: str, sandbox_port: int) -> None:
    from socialcrm.core.db import get_database
    from socialcrm.core.settings import Settings
    from socialcrm.demo import DEMO_WORLD, load_demo
    from socialcrm.sandbox.testing import start_sandbox

    assert isinstance(settings, Settings)
    sandbox = start_sandbox(DEMO_WORLD, host=host, port=sandbox_port)
    settings.sandbox_url = sandbox.url
    login = load_demo(get_database(), settings, sandbox.url)
    out.rule("[bold]socialcrm demo[/bold]")
    out.print(f"Open      {settings.base_url}")
    out.print(f"Log in    {login.email} / {login.password}")
    out.print(
        f"Sandbox   {sandbox.url}  (X, Mastodon, Bluesky; Bluesky app password: app-password)"
    )
    out.print(f"API key   {login.api_key}")
    auth = f"Authorization: Bearer {login.api_key}"
    out.print(f"Try       curl -H '{auth}' {settings.base_url}/api/contacts")
    out.rule()


@app.command("worker")
def run_worker(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 4,
    periodic: Annotated[bool, typer.Option(help="Also run the periodic scheduler.")] = True,
) -> None:
    """A standalone queue consumer (run any number of them against Redis)."""
    import socialcrm.tasks  # noqa: F401
    from socialcrm.core.logging import configure_logging
    from socialcrm.core.queue import huey

    configure_logging(get_settings().log_format)
    huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic).run()


@app.command()
def discover(
    source: Annotated[Path, typer.Argument(help="Items: a .csv or .jsonl file with site_web.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="A .csv or .jsonl file.")],
) -> None:
    """Find organisations' social profiles on their websites (same engine as the jobs API)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from socialcrm.discovery.files import InputError, discover_file

    if not source.is_file():
        _fail(f"{source}: no such file")
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("sites", total=None)
        try:
            summary = discover_file(
                source,
                output,
                progress=lambda n: bar.advance(task, n),
                on_total=lambda total: bar.update(task, total=total),
            )
        except InputError as exc:
            _fail(str(exc))
            return
    failures = ", ".join(f"{k} {v}" for k, v in summary.failures.most_common()) or "none"
    err.print(
        f"{summary.rows} rows: {summary.crawled} sites read, profiles found for {summary.found}, "
        f"{summary.skipped} without a usable site_web; failures: {failures}"
    )
    out.print(f"wrote {output}")


@app.command()
def sandbox(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8001,
    world: Annotated[
        Path | None, typer.Option(help="World JSON file.", exists=True, dir_okay=False)
    ] = None,
) -> None:
    """Run the local social-network sandbox (X, Mastodon, Bluesky)."""
    from socialcrm.demo import DEMO_WORLD
    from socialcrm.sandbox.testing import serve as serve_sandbox

    serve_sandbox(host, port, world or DEMO_WORLD)


@api_key_app.command("create")
def api_key_create(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if missing).")],
    role: Annotated[Role, typer.Option(help="Role of the key.")] = Role.ADMIN,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key; the key is the last line of output and is shown only once."""
    from socialcrm.core.db import get_database
    from socialcrm.core.errors import AppError
    from socialcrm.tenancy.service import create_api_key, get_or_create_tenant

    try:
        with get_database().session(system=True) as session:
            record = get_or_create_tenant(session, tenant)
            key, raw = create_api_key(session, tenant=record, role=role, name=name)
            key_id = key.id
    except AppError as exc:
        _fail(exc.message)
        return
    err.print(f"API key {key_id} created for tenant {tenant!r} with role {role.value}")
    print(raw)


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id, as `api-key create` printed it.")],
) -> None:
    """Revoke an API key; running servers refuse it within SOCIALCRM_API_KEY_CACHE_S (10 s)."""
    from socialcrm.core.db import get_database
    from socialcrm.core.errors import AppError
    from socialcrm.tenancy.service import revoke_api_key

    try:
        with get_database().session(system=True) as session:
            revoke_api_key(session, key_id)
    except AppError as exc:
        _fail(exc.message)
        return
    err.print(f"API key {key_id} revoked")


@user_app.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if missing).")],
    email: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.AGENT,
    name: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="SOCIALCRM_NEW_PASSWORD"
        ),
    ] = "",
) -> None:
    """Create a user who can log in to the UI."""
    from socialcrm.core.db import get_database
    from socialcrm.core.errors import AppError
    from socialcrm.tenancy.service import create_user, get_or_create_tenant

    try:
        with get_database().session(system=True) as session:
            record = get_or_create_tenant(session, tenant)
            user = create_user(
                session, tenant=record, email=email, password=password, role=role, name=name
            )
            user_id = user.id
    except AppError as exc:
        _fail(exc.message)
        return
    out.print(f"user {user_id} <{email}> created in tenant {tenant!r} as {role.value}")


if __name__ == "__main__":
    app()
