"""A real dovecot-imapd for the IMAP tests (started once per test module)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.core.settings import get_settings
from tests.conftest import unavailable
from tests.signatures.dovecot import ImapServer, run_dovecot


@pytest.fixture(scope="module")
def imap_server() -> Iterator[ImapServer]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        unavailable("dovecot-imapd")
    if os.geteuid() != 0:
        unavailable("root (the dovecot test's mail user is the dovecot account)")
    # Under /tmp itself: dovecot's unprivileged processes must reach the files (pytest's own
    # temporary folders are private to root).
    directory = Path(tempfile.mkdtemp(prefix="socialcrm-dovecot-"))
    try:
        with run_dovecot(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def loopback_allowed() -> Iterator[None]:
    settings = get_settings()
    previous = settings.allow_private_fetch
    settings.allow_private_fetch = ["127.0.0.0/8", "::1/128"]
    try:
        yield
    finally:
        settings.allow_private_fetch = previous
