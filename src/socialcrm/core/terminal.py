"""What every ``socialcrm`` command shares: its consoles, one way to fail, and the database it
may open (an existing one: a command never creates a data directory by looking for one).

Imports stay light: ``socialcrm --help`` loads every command module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from socialcrm.core.db import Database

out = Console()
err = Console(stderr=True)
MIGRATE_FIRST = "run `socialcrm migrate` first"
_on_open: list[Callable[[], None]] = []


def on_open(prepare: Callable[[], None]) -> None:
    """Run ``prepare()`` once the command's database is known to exist, before it is used
    (the CLI wires the domain events so: importing the domains creates files on disk)."""
    _on_open.append(prepare)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names (None for another database or an in-memory one)."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def open_database() -> Database:
    """The process database; refuses, in one line, an SQLite file that does not exist yet
    instead of creating it (and the data directory) empty."""
    from socialcrm.core.db import current_database, get_database

    if (database := current_database()) is not None:
        return database
    from socialcrm.core.settings import Settings

    settings = Settings()  # not resolved yet: nothing is created on disk
    path = sqlite_file(settings.database_url or f"sqlite:///{settings.data_dir / 'socialcrm.db'}")
    if path is not None and not path.is_file():
        fail(f"no database at {path.absolute()}: {MIGRATE_FIRST} (or set SOCIALCRM_DATA_DIR)")
    while _on_open:
        _on_open.pop(0)()
    return get_database()


def is_missing_schema(exc: BaseException) -> bool:
    """A database that exists but was never migrated (SQLite: "no such table"; PostgreSQL:
    undefined_table)."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return False
    return "no such table" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "42P01"


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table at a terminal; tab-separated lines, header first, when piped (for scripts)."""
    if out.is_terminal:
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    for row in (columns, *rows):
        print("\t".join(" ".join(cell.split()) for cell in row))
