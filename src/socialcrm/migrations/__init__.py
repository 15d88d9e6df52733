"""Alembic migrations, shipped inside the package so ``socialcrm migrate`` works anywhere.

May import ``core`` only (a migration describes tables as they were, not today's models).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from socialcrm.core.db import normalise_url

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Every branch to its head: domains add their own revisions on top of the foundation."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
