"""The guard that fails a test when a provider call happens inside an open write transaction
(``tests/txn_guard.py``) sees calls made through the production gateway, and only those."""

from __future__ import annotations

import contextlib

import pytest

from socialcrm.connections import gateway
from socialcrm.core.db import Database
from socialcrm.providers.base import CallContext, ProfileData, Provider, ProviderError
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import get_or_create_tenant
from tests.txn_guard import provider_calls_watched

pytestmark = pytest.mark.usefixtures("sandbox")


def look_up_ada() -> None:
    """One real request to the sandbox's X through the adapters (refused: no valid token)."""

    async def lookup(p: Provider) -> ProfileData:
        return await p.lookup_handle(CallContext(access_token="not-a-token"), "ada")

    with contextlib.suppress(ProviderError):
        gateway.call("x", lookup)


def test_a_provider_call_inside_a_write_transaction_is_reported(database: Database) -> None:
    with provider_calls_watched() as guard:
        with database.session(system=True) as session:
            get_or_create_tenant(session, "Guarded")
            session.flush()
            look_up_ada()
        assert len(guard.violations) == 1
        report = guard.report()
        assert "/x/2/users/by/username/ada" in report
        assert "tenancy/service.py" in report  # where the open transaction first wrote


def test_reads_savepoints_and_committed_work_are_not_reported(database: Database) -> None:
    with provider_calls_watched() as guard:
        with database.session(system=True) as session:
            session.get(Tenant, 1)  # reading takes no write lock
            look_up_ada()
            get_or_create_tenant(session, "Guarded")
            with session.begin_nested():  # a released savepoint commits nothing
                pass
            assert guard.writing
        look_up_ada()  # after the commit
        assert guard.violations == []
        with pytest.raises(RuntimeError), database.session(system=True) as session:
            get_or_create_tenant(session, "Rolled back")
            session.flush()
            raise RuntimeError("undo")
        look_up_ada()  # after the rollback
    assert guard.violations == []
