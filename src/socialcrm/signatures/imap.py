"""IMAP mailbox sync (stdlib ``imaplib``), SSL or STARTTLS, incremental by UID.

Each message is stored in its own unit of work together with the account's new ``last_uid``,
so a sync that stops half-way (crash, restart, network, ``kill -9``) resumes after the last
stored message and never skips or repeats one. A message that cannot be read is stored as a
failed one with its reason in that same unit, so it never holds the mailbox up. One sync at a
time holds the account's lease, renewed with every message; a worker that dies leaves it to
expire and the queue resumes the sync (on start-up and every five minutes). A changed
UIDVALIDITY means the server renumbered the mailbox: the sync starts over, and Message-ID
de-duplication keeps that from storing anything twice.
"""

from __future__ import annotations

import imaplib
import os
import re
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import AppError, Conflict, NotFound, ValidationFailed
from socialcrm.core.http import (
    UnsafeURL,
    allowed_networks,
    is_public_address,
    resolve_host_sync,
)
from socialcrm.core.settings import get_settings
from socialcrm.signatures import intake
from socialcrm.signatures.models import ImapAccount, ImapSecurity
from socialcrm.signatures.settings import imap_settings
from socialcrm.tenancy.models import User

log = structlog.get_logger(__name__)

MAX_FETCH_BYTES = 10 * 1024 * 1024  # a larger message is read up to here: a partial result
TIMEOUT_S = 30.0
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ImapError(AppError):
    status_code, code = 502, "upstream_unavailable"


class SyncUnderWay(Conflict):
    """Another sync holds the mailbox's lease (or took it over from this one)."""


@dataclass(slots=True)
class SyncResult:
    fetched: int = 0
    stored: int = 0
    failed: int = 0  # stored as failed messages, with their reason
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


@dataclass(frozen=True, slots=True)
class _Mailbox:
    tenant_id: int
    account_id: int
    host: str
    port: int
    security: ImapSecurity
    username: str
    password: str
    mailbox: str
    uidvalidity: int | None
    last_uid: int
    owner_email: str


def _tenant_of(db: Database, account_id: int) -> int:
    with db.session(system=True) as session:
        account = session.get(ImapAccount, account_id)
        if account is None:
            raise NotFound(f"IMAP account {account_id} not found")
        return account.tenant_id


def _read_mailbox(db: Database, tenant_id: int, account_id: int) -> _Mailbox:
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(ImapAccount, account_id)
        if account is None:
            raise NotFound(f"IMAP account {account_id} not found")
        owner = session.get(User, account.user_id) if account.user_id else None
        return _Mailbox(
            tenant_id=tenant_id,
            account_id=account_id,
            host=account.host,
            port=account.port,
            security=ImapSecurity(account.security),
            username=account.username,
            password=account.password,
            mailbox=account.mailbox,
            uidvalidity=account.uidvalidity,
            last_uid=account.last_uid,
            owner_email=owner.email if owner else "",
        )


def _lease() -> timedelta:
    return timedelta(seconds=imap_settings().lease_s)


def _claim(db: Database, tenant_id: int, account_id: int, owner: str) -> datetime | None:
    """Take the account's sync lease; None when it is taken, else the lease's end."""
    now = utcnow()
    with db.session(tenant_id=tenant_id) as session:
        claimed = session.execute(
            update(ImapAccount)
            .where(
                ImapAccount.id == account_id,
                or_(
                    ImapAccount.sync_lease_until.is_(None),
                    ImapAccount.sync_lease_until < now,
                    ImapAccount.sync_owner == owner,
                ),
            )
            .values(sync_owner=owner, sync_lease_until=now + _lease())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return now + _lease()
        return None


def _release(db: Database, tenant_id: int, account_id: int, owner: str) -> None:
    with db.session(tenant_id=tenant_id) as session:
        session.execute(
            update(ImapAccount)
            .where(ImapAccount.id == account_id, ImapAccount.sync_owner == owner)
            .values(sync_owner=None, sync_lease_until=None)
            .execution_options(synchronize_session=False)
        )


def _advance(session: Session, account_id: int, owner: str, uid: int, validity: int) -> None:
    """Move ``last_uid`` past ``uid`` and renew the lease, in the message's own unit of work;
    if another sync took the mailbox over meanwhile, the message is not kept either."""
    moved = session.execute(
        update(ImapAccount)
        .where(ImapAccount.id == account_id, ImapAccount.sync_owner == owner)
        .values(
            last_uid=uid,
            uidvalidity=validity,
            last_error="",
            sync_lease_until=utcnow() + _lease(),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise SyncUnderWay("another sync took this mailbox over; this one stopped")


def interrupted_syncs(db: Database) -> list[tuple[int, datetime | None]]:
    """Accounts whose sync still holds a lease (its worker may have died): (account, when the
    lease ends) for the queue to resume them."""
    with db.session(system=True) as session:
        rows = session.execute(
            select(ImapAccount.id, ImapAccount.sync_lease_until).where(
                ImapAccount.sync_owner.is_not(None), ImapAccount.active.is_(True)
            )
        ).all()
    return [(int(account_id), until) for account_id, until in rows]


def sync_account(
    db: Database,
    account_id: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Fetch what is new in the mailbox and ingest it, one committed message at a time, under
    the account's sync lease (``SyncUnderWay`` when another sync holds it)."""
    tenant_id = _tenant_of(db, account_id)
    owner = f"{WORKER_ID}:{uuid.uuid4().hex[:8]}"
    if _claim(db, tenant_id, account_id, owner) is None:
        raise SyncUnderWay(f"a sync of IMAP account {account_id} is already under way")
    try:
        box = _read_mailbox(db, tenant_id, account_id)
        return _sync(db, box, owner, ssl_context, progress)
    finally:
        _release(db, tenant_id, account_id, owner)


def _sync(
    db: Database,
    box: _Mailbox,
    owner: str,
    ssl_context: ssl.SSLContext | None,
    progress: Callable[[int, int], None] | None,
) -> SyncResult:
    result = SyncResult(last_uid=box.last_uid)
    last_uid = box.last_uid
    try:
        with open_mailbox(
            box.host, box.port, box.security, box.username, box.password, ssl_context=ssl_context
        ) as client:
            validity = _uidvalidity(client, box.mailbox)
            if box.uidvalidity is not None and validity != box.uidvalidity:
                log.info("imap_uidvalidity_changed", account_id=box.account_id)
                last_uid = 0
            status, _ = client.select(_quote(box.mailbox), readonly=True)
            if status != "OK":
                raise ImapError(f"cannot open the mailbox {box.mailbox!r}")
            uids = _new_uids(client, last_uid)
            for done, uid in enumerate(uids, start=1):
                raw = _fetch(client, uid)
                result.fetched += 1
                outcome = _take_in(db, box, owner, uid, validity, raw)
                result.stored += outcome == "stored"
                result.failed += outcome == "failed"
                result.skipped += outcome == "skipped"
                result.last_uid = uid
                if progress is not None:
                    progress(done, len(uids))
    except (ImapError, ValidationFailed, UnsafeURL) as exc:
        _record_error(db, box.tenant_id, box.account_id, getattr(exc, "message", str(exc)))
        raise
    except (imaplib.IMAP4.error, OSError, ValueError) as exc:
        message = f"the IMAP session failed: {type(exc).__name__}: {_clean(exc)}"
        _record_error(db, box.tenant_id, box.account_id, message)
        raise ImapError(message) from exc
    with db.session(tenant_id=box.tenant_id) as session:
        account = session.get(ImapAccount, box.account_id)
        if account is not None:
            account.uidvalidity = validity
            account.last_sync_at = utcnow()
            account.last_error = ""
    return result


def _take_in(
    db: Database, box: _Mailbox, owner: str, uid: int, validity: int, raw: bytes | None
) -> str:
    """Store message ``uid`` (or why it failed) and move ``last_uid`` past it in one unit of
    work: "stored", "failed" or "skipped" (known already, or gone from the server)."""
    for attempt in range(2):
        try:
            with db.session(tenant_id=box.tenant_id) as session:
                outcome = _ingest_or_fail(session, box, uid, raw)
                _advance(session, box.account_id, owner, uid, validity)
                return outcome
        except IntegrityError:
            if attempt:  # the same message came in by another way at the same moment
                raise
        except (SQLAlchemyError, SyncUnderWay):
            raise  # the database is away or the lease is gone: stop, keep last_uid where it is
        except Exception as exc:  # a defect in reading one message must not stop the mailbox
            log.exception("imap_message_failed", account_id=box.account_id, uid=uid)
            with db.session(tenant_id=box.tenant_id) as session:
                reason = f"the message could not be processed ({type(exc).__name__})"
                _failed(session, box, uid, raw or b"", reason)
                _advance(session, box.account_id, owner, uid, validity)
            return "failed"
    raise AssertionError("unreachable")


def _ingest_or_fail(session: Session, box: _Mailbox, uid: int, raw: bytes | None) -> str:
    if raw is None:
        return "skipped"
    try:
        with session.begin_nested():  # a refusal leaves nothing of the message behind
            ingest = intake.ingest(
                session,
                box.tenant_id,
                raw,
                source="imap",
                imap_account_id=box.account_id,
                mailbox_owner=box.owner_email or box.username,
                imap_uid=uid,
            )
    except ValidationFailed as exc:
        _failed(session, box, uid, raw, exc.message)
        return "failed"
    return "stored" if ingest.created else "skipped"


def _failed(session: Session, box: _Mailbox, uid: int, raw: bytes, reason: str) -> None:
    intake.record_failed(
        session, raw, reason, source="imap", imap_account_id=box.account_id, imap_uid=uid
    )
    log.warning("imap_message_unreadable", account_id=box.account_id, uid=uid, reason=reason)


def _record_error(db: Database, tenant_id: int, account_id: int, message: str) -> None:
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(ImapAccount, account_id)
        if account is not None:
            account.last_error = message[:500]
            account.last_sync_at = utcnow()
