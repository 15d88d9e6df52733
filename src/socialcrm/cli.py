"""The ``socialcrm`` command line.

Every module a command needs is imported when the command runs, not before: ``socialcrm
--help`` loads Typer and the command modules' signatures only (bench: well under a second).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from socialcrm import __version__
from socialcrm.audit.cli import audit_app
from socialcrm.core.terminal import MIGRATE_FIRST, err, fail, is_missing_schema, on_open, out
from socialcrm.enrichment.cli import enrich_app
from socialcrm.identity.cli import identity_app
from socialcrm.listening.cli import app as listening_app
from socialcrm.signatures.cli import emails_app
from socialcrm.tenancy.cli import api_key_app, tenant_app, user_app


class _Commands(TyperGroup):
    """The root group: turns the errors a user can fix into one line instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:  # Typer's own (vendored) click.Context
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if is_missing_schema(exc):
                fail(f"the database has no tables yet: {MIGRATE_FIRST}")
            errors = sys.modules.get("socialcrm.core.errors")
            if errors is not None and isinstance(exc, errors.AppError):
                fail(exc.message)
            if (down := _unreachable(exc)) is not None:
                fail(down, code=3)
            raise


def _unreachable(exc: Exception) -> str | None:
    """One line for a database or Redis that cannot be reached (start-up against a dead one)."""
    from socialcrm.core.errors import outage_of

    dependency = outage_of(exc)
    if dependency is None:
        return None
    from socialcrm.core.settings import get_settings

    settings = get_settings()
    url = settings.database_url if dependency == "database" else settings.queue_url
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0].strip("'\"") if reason else type(exc).__name__
    return f"cannot reach the {dependency} at {_safe_url(url)}: {detail}"


# No locals in tracebacks: they may hold tokens, passwords and keys.
app = typer.Typer(
    cls=_Commands,
    help="socialcrm: the social layer of a CRM.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(api_key_app, name="api-key")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(listening_app, name="listening")
app.add_typer(emails_app, name="emails")
app.add_typer(enrich_app, name="enrich")
app.add_typer(identity_app, name="identity")


def _version(value: bool) -> None:
    if value:
        print(f"socialcrm {__version__}")
        raise typer.Exit


# The commands that write domain data: their units of work run the domain events' subscribers
# (``serve`` and ``worker`` wire through the app and ``socialcrm.worker``).
_WRITING_COMMANDS = frozenset({"enrich", "identity", "emails", "listening"})


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """socialcrm: the social layer of a CRM."""
    if ctx.invoked_subcommand in _WRITING_COMMANDS:
        on_open(_wire)  # once the database is known to exist (the imports create files)


def _wire() -> None:
    from socialcrm.wiring import wire

    wire()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from socialcrm.core.settings import get_settings
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
    from socialcrm.core.settings import get_settings
    from socialcrm.migrations import upgrade

    settings = get_settings()
    if workers > 1 and not settings.queue_url.startswith(("redis://", "rediss://")):
        fail(
            "--workers above 1 needs SOCIALCRM_QUEUE_URL=redis://…: live events, identity cache "
            "invalidations and rate limits are shared between the processes through Redis"
        )
    if "SOCIALCRM_BASE_URL" not in os.environ:
        settings.base_url = f"http://{host}:{port}"
    configure_logging(settings.log_format, level=settings.log_level)
    upgrade(settings.database_url)
    if demo:
        _start_demo(settings, host, sandbox_port)
    consumer = None
    if worker:  # one consumer, in this process, however many server processes there are
        from socialcrm.worker import start_consumer

        consumer = start_consumer(settings.queue_workers)
    try:
        if workers == 1:
            from socialcrm.app import create_app, ready_to_serve

            served = ready_to_serve(create_app())
            uvicorn.run(served, host=host, port=port, log_config=None, proxy_headers=False)
        else:  # the server processes read their settings from the environment
            from socialcrm.web import processes

            os.environ["SOCIALCRM_BASE_URL"] = settings.base_url
            os.environ["SOCIALCRM_SANDBOX_URL"] = settings.sandbox_url
            try:
                code = processes.serve(workers, host, port)
            except OSError as exc:
                fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            if code:
                fail("a server process exited; all were stopped")
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


def _start_demo(settings: object, host: str, sandbox_port: int) -> None:
    from datetime import UTC, datetime

    from socialcrm.core.db import get_database
    from socialcrm.core.settings import Settings
    from socialcrm.demo import demo_banner, demo_world, load_demo
    from socialcrm_sandbox.testing import start_sandbox

    assert isinstance(settings, Settings)
    url_host = f"[{host}]" if ":" in host else host
    world = demo_world(datetime.now(UTC), f"http://{url_host}:{sandbox_port}")
    sandbox = start_sandbox(world, host=host, port=sandbox_port)
    settings.sandbox_url = sandbox.url
    login = load_demo(get_database(), settings, sandbox.url)
    for line in demo_banner(settings.base_url, login, sandbox.url):
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command("worker")
def run_worker(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 4,
    periodic: Annotated[bool, typer.Option(help="Also run the periodic scheduler.")] = True,
) -> None:
    """A standalone queue consumer (run any number of them against Redis)."""
    from socialcrm.core.logging import configure_logging
    from socialcrm.core.settings import get_settings
    from socialcrm.worker import run_consumer

    configure_logging(get_settings().log_format, level=get_settings().log_level)
    run_consumer(workers, periodic=periodic)


@app.command()
def discover(
    source: Annotated[Path, typer.Argument(help="Items: a .csv or .jsonl file with site_web.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="A .csv or .jsonl file.")],
) -> None:
    """Find organisations' social profiles on their websites (same engine as the jobs API)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from socialcrm.discovery.files import InputError, discover_file

    if not source.is_file():
        fail(f"{source}: no such file")
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
            fail(str(exc))
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
    from socialcrm_sandbox.schema import DEMO_WORLD_PATH
    from socialcrm_sandbox.testing import serve as serve_sandbox

    if world is not None:
        _check_world(world)
    serve_sandbox(host, port, world or DEMO_WORLD_PATH)


def _check_world(path: Path) -> None:
    """A world file that is not JSON or not a valid world: what is wrong, where, no traceback."""
    from pydantic import ValidationError

    from socialcrm_sandbox.schema import load_world_spec

    try:
        load_world_spec(path)
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        ]
        fail(f"{path} is not a valid sandbox world:\n" + "\n".join(problems[:20]))
    except (ValueError, OSError) as exc:  # JSONDecodeError, UnicodeDecodeError, unreadable
        fail(f"{path} is not a valid sandbox world: {exc}")


if __name__ == "__main__":
    app()
