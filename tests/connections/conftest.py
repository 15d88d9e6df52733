"""Connections tests: each fails if a provider call happens inside an open write transaction."""

from tests.txn_guard import (
    no_provider_call_in_write_transaction as no_provider_call_in_write_transaction,
)
