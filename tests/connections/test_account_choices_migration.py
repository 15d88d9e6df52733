"""Migration 0018 (account_choices) goes up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from socialcrm.core.db import make_engine
from socialcrm.migrations import downgrade, upgrade
from tests.conftest import empty_database


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "account_choices") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0018_creates_account_choices_and_goes_back_down(empty_url: str) -> None:
    upgrade(empty_url)
    assert "account_choices" in _tables(empty_url)
    downgrade(empty_url, "0018-1")
    assert "account_choices" not in _tables(empty_url)
    assert "social_accounts" in _tables(empty_url)
    upgrade(empty_url)
    assert "account_choices" in _tables(empty_url)
