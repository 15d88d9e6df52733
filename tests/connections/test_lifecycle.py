"""The token life cycle as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.connections.lifecycle import (
    IllegalTransition,
    TokenEvent,
    event_for,
    merge_tokens,
    needs_refresh,
    next_status,
)
from socialcrm.connections.models import AccountStatus
from socialcrm.providers.base import (
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TransientProviderError("503"), AccountStatus.ACTIVE),
        (RateLimited(NOW), AccountStatus.ACTIVE),
        (ReconnectRequired("invalid_grant"), AccountStatus.ERROR),
    ],
)
def test_only_an_invalid_grant_kills_an_account(error: Exception, status: AccountStatus) -> None:
    assert next_status(AccountStatus.ACTIVE, event_for(error)) == status  # type: ignore[arg-type]


def test_revoked_is_final_until_a_person_reconnects() -> None:
    for event in (TokenEvent.REFRESHED, TokenEvent.TRANSIENT_FAILURE, TokenEvent.GRANT_INVALID):
        with pytest.raises(IllegalTransition):
            next_status(AccountStatus.REVOKED, event)
    assert next_status(AccountStatus.REVOKED, TokenEvent.CONNECTED) == AccountStatus.ACTIVE
    assert next_status(AccountStatus.ERROR, TokenEvent.CONNECTED) == AccountStatus.ACTIVE


def test_an_empty_refresh_token_never_erases_the_stored_one() -> None:
    stored = TokenSet("old-access", "old-refresh", NOW, ("tweet.read",))
    merged = merge_tokens(stored, TokenSet("new-access", None, NOW + timedelta(hours=2)))
    assert merged.access_token == "new-access"
    assert merged.refresh_token == "old-refresh"
    assert merged.scopes == ("tweet.read",)
    rotated = merge_tokens(stored, TokenSet("new-access", "new-refresh", None))
    assert rotated.refresh_token == "new-refresh"
    with pytest.raises(ValueError, match="empty access token"):
        merge_tokens(stored, TokenSet("", "new-refresh"))


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_refresh_is_due_within_the_margin(seconds_left: int) -> None:
    expires = NOW + timedelta(seconds=seconds_left)
    assert needs_refresh(expires, NOW, timedelta(seconds=300)) == (seconds_left <= 300)
    assert needs_refresh(None, NOW, timedelta(seconds=300)) is False
