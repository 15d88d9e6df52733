"""IMAP mailbox sync (stdlib ``imaplib``), SSL or STARTTLS, incremental by UID.

Each message is stored in its own unit of work together with the account's new ``last_uid``,
so a sync that stops half-way (crash, restart, network) resumes after the last stored message
and never skips or repeats one. A changed UIDVALIDITY means the server renumbered the mailbox:
the sync starts over, and Message-ID de-duplication keeps that from storing anything twice.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import structlog

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import AppError, NotFound, ValidationFailed
from socialcrm.core.http import (
    UnsafeURL,
    allowed_networks,
    is_public_address,
    resolve_host_sync,
)
from socialcrm.core.settings import get_settings
from socialcrm.signatures import service
from socialcrm.signatures.models import ImapAccount, ImapSecurity
from socialcrm.tenancy.models import User

log = structlog.get_logger(__name__)

MAX_FETCH_BYTES = 10 * 1024 * 1024  # a larger message is read up to here: a partial result
TIMEOUT_S = 30.0


class ImapError(AppError):
    status_code, code = 502, "upstream_unavailable"


@dataclass(slots=True)
class SyncResult:
    fetched: int = 0
    stored: int = 0
    skipped: int = 0
    last_uid: int = 0


def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` once and refuse internal addresses (unless the operator allowed
    them); the connection then goes to that address, so DNS cannot change in between."""
    try:
        addresses = resolve_host_sync(host, port)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"the IMAP host {host!r} does not resolve", details={"host": host}
        ) from exc
    allowed = allowed_networks(get_settings().allow_private_fetch)
    for ip in addresses:
        if not is_public_address(ip, allowed):
            raise ValidationFailed(
                f"the IMAP host {host!r} is an internal address",
                details={
                    "host": host,
                    "hint": "SOCIALCRM_ALLOW_PRIVATE_FETCH lists allowed networks",
                },
            )
    if not addresses:
        raise ValidationFailed(f"the IMAP host {host!r} has no address", details={"host": host})
    return [str(ip) for ip in addresses]


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedIMAP4(imaplib.IMAP4):
    """Plain IMAP to a checked address (for STARTTLS)."""

    def __init__(self, host: str, addresses: list[str], port: int, timeout: float) -> None:
        self._addresses = addresses
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return _connect(self._addresses, self.port, timeout)


class _PinnedIMAP4SSL(imaplib.IMAP4_SSL):
    """IMAP over TLS to a checked address; the certificate is verified for ``host``."""

    def __init__(
        self, host: str, addresses: list[str], port: int, context: ssl.SSLContext, timeout: float
    ) -> None:
        self._addresses = addresses
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = _connect(self._addresses, self.port, timeout)
        wrapped: socket.socket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return wrapped


@contextmanager
def open_mailbox(
    host: str,
    port: int,
    security: ImapSecurity,
    username: str,
    password: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = TIMEOUT_S,
) -> Iterator[imaplib.IMAP4]:
    addresses = checked_addresses(host, port)
    context = ssl_context or ssl.create_default_context()
    try:
        if security == ImapSecurity.SSL:
            client: imaplib.IMAP4 = _PinnedIMAP4SSL(host, addresses, port, context, timeout)
        else:
            client = _PinnedIMAP4(host, addresses, port, timeout)
            client.starttls(context)
        client.login(username, password)
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"the IMAP server refused the login: {_clean(exc)}") from exc
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ImapError(f"cannot reach the IMAP server: {type(exc).__name__}") from exc
    try:
        yield client
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def _clean(exc: BaseException) -> str:
    text = str(exc)
    return re.sub(r"[^\x20-\x7e]", "", text)[:200]


def _uidvalidity(client: imaplib.IMAP4, mailbox: str) -> int:
    status, data = client.status(_quote(mailbox), "(UIDVALIDITY)")
    if status != "OK" or not data or data[0] is None:
        raise ImapError(f"the mailbox {mailbox!r} does not exist")
    raw = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
    match = re.search(r"UIDVALIDITY (\d+)", raw)
    if not match:
        raise ImapError("the server sent no UIDVALIDITY")
    return int(match.group(1))


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _new_uids(client: imaplib.IMAP4, after: int) -> list[int]:
    status, data = client.uid("SEARCH", None, f"UID {after + 1}:*")  # type: ignore[arg-type]
    if status != "OK":
        raise ImapError("the server refused the UID search")
    words = b" ".join(d for d in data if isinstance(d, bytes)).split()
    # "n:*" always matches the highest UID, even one below n: keep only new ones.
    return sorted(uid for uid in (int(w) for w in words if w.isdigit()) if uid > after)


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    status, data = client.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{MAX_FETCH_BYTES}>)")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def sync_account(
    db: Database,
    account_id: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Fetch what is new in the mailbox and ingest it, one committed message at a time."""
    with db.session(system=True) as session:
        account = session.get(ImapAccount, account_id)
        if account is None:
            raise NotFound(f"IMAP account {account_id} not found")
        tenant_id = account.tenant_id
        owner = session.get(User, account.user_id) if account.user_id else None
        conf = (
            account.host,
            account.port,
            ImapSecurity(account.security),
            account.username,
            account.password,
            account.mailbox,
        )
        known_validity, last_uid = account.uidvalidity, account.last_uid
        owner_email = owner.email if owner else ""
    host, port, security, username, password, mailbox = conf
    result = SyncResult(last_uid=last_uid)
    try:
        with open_mailbox(
            host, port, security, username, password, ssl_context=ssl_context
        ) as client:
            validity = _uidvalidity(client, mailbox)
            if known_validity is not None and validity != known_validity:
                log.info("imap_uidvalidity_changed", account_id=account_id)
                last_uid = 0
            status, _ = client.select(_quote(mailbox), readonly=True)
            if status != "OK":
                raise ImapError(f"cannot open the mailbox {mailbox!r}")
            uids = _new_uids(client, last_uid)
            for done, uid in enumerate(uids, start=1):
                raw = _fetch(client, uid)
                result.fetched += 1
                with db.session(tenant_id=tenant_id) as session:
                    if raw is not None:
                        try:
                            ingest = service.ingest(
                                session,
                                tenant_id,
                                raw,
                                source="imap",
                                imap_account_id=account_id,
                                mailbox_owner=owner_email or username,
                            )
                            result.stored += int(ingest.created)
                            result.skipped += int(not ingest.created)
                        except ValidationFailed:
                            result.skipped += 1
                    else:
                        result.skipped += 1
                    account = session.get(ImapAccount, account_id)
                    if account is None:
                        raise NotFound(f"IMAP account {account_id} was removed")
                    account.last_uid = uid
                    account.uidvalidity = validity
                    account.last_error = ""
                result.last_uid = uid
                if progress is not None:
                    progress(done, len(uids))
    except (ImapError, ValidationFailed, UnsafeURL) as exc:
        _record_error(db, tenant_id, account_id, getattr(exc, "message", str(exc)))
        raise
    except (imaplib.IMAP4.error, OSError, ValueError) as exc:
        message = f"the IMAP session failed: {type(exc).__name__}: {_clean(exc)}"
        _record_error(db, tenant_id, account_id, message)
        raise ImapError(message) from exc
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(ImapAccount, account_id)
        if account is not None:
            account.uidvalidity = validity
            account.last_sync_at = utcnow()
            account.last_error = ""
    return result


def _record_error(db: Database, tenant_id: int, account_id: int, message: str) -> None:
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(ImapAccount, account_id)
        if account is not None:
            account.last_error = message[:500]
            account.last_sync_at = utcnow()
