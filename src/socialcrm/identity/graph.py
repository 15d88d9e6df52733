"""The identity graph's write side: link accounts to Contacts, keep handle history, map emails.

``record_identity`` is the one entry point other domains call (enrichment, connected accounts,
signatures): give it a Contact, a network, the platform user id when known and the handle.
Every query names its tenant explicitly as well (the session guard does too), so these
functions are also correct inside a system session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from socialcrm.core import events
from socialcrm.core.db import utcnow
from socialcrm.crm import service as crm
from socialcrm.crm.events import ContactChanged, ContactErased
from socialcrm.crm.models import Contact
from socialcrm.identity import cachebus, reviews
from socialcrm.identity.cache import CacheKey, resolution_cache
from socialcrm.identity.lookups import aliases_for_handle, contacts_with_email, profile_by_user_id
from socialcrm.identity.models import EmailHandleLink, HandleAlias, IdentityProfile, ReviewKind
from socialcrm.identity.normalise import (
    ImpossibleHandle,
    NormalisedHandle,
    identity_user_id,
    normalise_handle,
)
from socialcrm.providers.handles import Network

log = structlog.get_logger(__name__)

# Sources whose accounts are not written into ``Contact.handles``: the Contact's own list, and
# enrichment's links (shown with the Contact's social profiles; a rejected one leaves again).
_NO_WRITE_BACK = frozenset({"contact", "enrichment"})
_SKIP_SYNC = "identity.skip_contact_sync"


@dataclass(frozen=True, slots=True)
class Linked:
    """What ``record_identity`` did: the profile, and whether another Contact already held it."""

    profile: IdentityProfile
    conflict_contact_id: int | None = None


def tenant_of(session: Session, fallback: int | None = None) -> int:
    tenant_id = session.info.get("tenant_id") or fallback
    if tenant_id is None:
        raise ValueError("identity graph writes need a tenant")
    return int(tenant_id)


def cache_keys(tenant_id: int, profile: IdentityProfile) -> list[CacheKey]:
    keys: list[CacheKey] = [(tenant_id, profile.network, f"h:{profile.handle}")]
    if profile.user_id:
        keys.append((tenant_id, profile.network, f"id:{profile.user_id}"))
    return keys


def invalidate(
    session: Session,
    tenant_id: int,
    *,
    contact_ids: tuple[int | None, ...] = (),
    keys: list[CacheKey] | None = None,
) -> None:
    """Drop cached answers now and again after commit (a reader could refill in between)."""
    for contact_id in contact_ids:
        if contact_id is not None:
            resolution_cache.invalidate_contact(tenant_id, contact_id)
            events.after_commit(session, _after_commit("contact", tenant_id, contact_id))
    if keys:
        resolution_cache.invalidate_keys(keys)
        events.after_commit(session, _after_commit("keys", tenant_id, keys))


def invalidate_all(session: Session, tenant_id: int) -> None:
    """Drop every cached answer (a policy changed), here now and everywhere after commit."""
    resolution_cache.clear()
    events.after_commit(session, _after_commit("clear", tenant_id, None))


def _after_commit(kind: str, tenant_id: int, what: Any) -> Callable[[], None]:
    def drop() -> None:
        if kind == "contact":
            resolution_cache.invalidate_contact(tenant_id, what)
        elif kind == "keys":
            resolution_cache.invalidate_keys(what)
        else:
            resolution_cache.clear()
        cachebus.publish(kind, tenant_id, what)  # and in every other process

    return drop


# --- writes ----------------------------------------------------------------------------------


def record_identity(
    session: Session,
    contact_id: int | None,
    network: str,
    user_id: str | None,
    handle: str,
    source: str,
    *,
    lead_id: int | None = None,
    relink: bool = False,
) -> Linked:
    """Link the account (``network``, ``user_id``, ``handle``) to ``contact_id``.

    A known user id with a new handle keeps the old handle as history. An account already
    linked to a different Contact is left alone and reported as a conflict, unless ``relink``
    (a person decided, e.g. in the review queue). Raises ``ImpossibleHandle`` on bad input.
    """
    tenant_id = tenant_of(session)
    n = _normalised(session, tenant_id, handle, network)
    uid = _graph_user_id(n, user_id)
    profile = _find_or_create(session, tenant_id, n, uid, source)
    rename_profile(session, tenant_id, profile, n)
    conflict = None
    if contact_id is not None and profile.contact_id != contact_id:
        if profile.contact_id is not None and not relink:
            conflict = profile.contact_id
        else:
            previous = profile.contact_id
            profile.contact_id = contact_id
            profile.source = source
            invalidate(
                session,
                tenant_id,
                contact_ids=(previous, contact_id),
                keys=cache_keys(tenant_id, profile),
            )
            if previous is not None:
                _drop_from_contact(session, tenant_id, previous, profile)
    if lead_id is not None and profile.lead_id is None:
        profile.lead_id = lead_id
    session.flush()
    if profile.contact_id is not None and source not in _NO_WRITE_BACK and conflict is None:
        _write_back(session, tenant_id, profile.contact_id, profile)
    return Linked(profile, conflict)


def _normalised(session: Session, tenant_id: int, handle: str, network: str) -> NormalisedHandle:
    """``normalise_handle``, where a bare Mastodon username (what a Mastodon server calls its
    own accounts) takes the instance the tenant is connected to, when there is exactly one."""
    try:
        return normalise_handle(handle, network)
    except ImpossibleHandle as exc:
        bare = handle.strip().removeprefix("@")
        if exc.network is not Network.MASTODON or not bare or "@" in bare or "/" in bare:
            raise
        from socialcrm.connections.service import mastodon_instance_hosts

        hosts = mastodon_instance_hosts(session, tenant_id)
        if len(hosts) != 1:
            known = (
                f"the tenant is on several: {', '.join(sorted(hosts))}"
                if hosts
                else ("no Mastodon connection of the tenant names one")
            )
            raise ImpossibleHandle(
                f"a Mastodon handle needs its instance (user@instance): {bare!r}; {known}",
                network=Network.MASTODON,
            ) from None
        return normalise_handle(f"{bare}@{hosts.pop()}", network)


def _graph_user_id(n: NormalisedHandle, user_id: str | None) -> str | None:
    raw = user_id or n.user_id
    return identity_user_id(n.network, raw, n.instance) if raw else None


def _find_or_create(
    session: Session, tenant_id: int, n: NormalisedHandle, uid: str | None, source: str
) -> IdentityProfile:
    if uid is not None:
        found = profile_by_user_id(session, tenant_id, n.network.value, uid)
        if found is not None:
            return found
    current = [
        p
        for a, p in aliases_for_handle(session, tenant_id, n.network.value, n.handle)
        if a.retired_at is None
    ]
    # A profile known only by this handle becomes this user id's profile.
    for profile in current:
        if profile.user_id is None:
            if uid is not None:
                profile.user_id = uid
                invalidate(session, tenant_id, contact_ids=(profile.contact_id,))
            return profile
    if uid is None:
        for profile in current:
            if profile.contact_id is not None:
                return profile  # the current handle of a customer's account known by its id
    profile = IdentityProfile(
        tenant_id=tenant_id,
        network=n.network.value,
        user_id=uid,
        handle=n.handle,
        url=n.url,
        source=source,
    )
    try:
        with session.begin_nested():
            session.add(profile)
            session.flush()
            session.add(_alias(tenant_id, profile.id, n))
            session.flush()
    except sa_exc.IntegrityError:
        # Another transaction recorded the same user id first: use theirs.
        if uid is None:
            raise
        found = profile_by_user_id(session, tenant_id, n.network.value, uid)
        if found is None:
            raise
        return found
    return profile


def _alias(tenant_id: int, profile_id: int, n: NormalisedHandle) -> HandleAlias:
    return HandleAlias(
        tenant_id=tenant_id,
        profile_id=profile_id,
        network=n.network.value,
        handle=n.handle,
        local=n.local,
        skeleton=n.skeleton,
    )


def rename_profile(
    session: Session, tenant_id: int, profile: IdentityProfile, n: NormalisedHandle
) -> str | None:
    """Make ``n`` the profile's current handle; the old one stays as history. Returns it."""
    if profile.handle == n.handle:
        return None
    old = profile.handle
    now = utcnow()
    invalidate(
        session, tenant_id, contact_ids=(profile.contact_id,), keys=cache_keys(tenant_id, profile)
    )
    session.execute(
        update(HandleAlias)
        .where(
            HandleAlias.tenant_id == tenant_id,
            HandleAlias.profile_id == profile.id,
            HandleAlias.retired_at.is_(None),
        )
        .values(retired_at=now)
    )
    existing = session.scalars(
        select(HandleAlias).where(
            HandleAlias.tenant_id == tenant_id,
            HandleAlias.profile_id == profile.id,
            HandleAlias.handle == n.handle,
        )
    ).first()
    if existing is not None:
        existing.retired_at = None  # a handle that comes back
    else:
        session.add(_alias(tenant_id, profile.id, n))
    profile.handle = n.handle
    profile.url = n.url
    session.flush()
    log.info("identity.handle_changed", network=profile.network, profile_id=profile.id)
    if profile.contact_id is not None:
        _write_back(session, tenant_id, profile.contact_id, profile, old_handle=old)
    return old


def record_email_handle(
    session: Session,
    email: str,
    network: str,
    handle: str,
    *,
    user_id: str | None = None,
    source: str = "enrichment",
) -> EmailHandleLink:
    """Remember that ``email`` belongs to this handle; points at the Contact carrying it."""
    tenant_id = tenant_of(session)
    n = normalise_handle(handle, network)
    address = email.strip().lower()
    uid = _graph_user_id(n, user_id)
    contacts = contacts_with_email(session, tenant_id, address)
    link = session.scalars(
        select(EmailHandleLink).where(
            EmailHandleLink.tenant_id == tenant_id,
            EmailHandleLink.email == address,
            EmailHandleLink.network == n.network.value,
            EmailHandleLink.handle == n.handle,
        )
    ).first()
    if link is None:
        link = EmailHandleLink(
            tenant_id=tenant_id, email=address, network=n.network.value, handle=n.handle
        )
        session.add(link)
    link.user_id = uid or link.user_id
    link.source = source
    link.contact_id = contacts[0] if len(contacts) == 1 else None
    session.flush()
    invalidate(session, tenant_id, keys=[(tenant_id, n.network.value, f"h:{n.handle}")])
    return link


# --- keeping Contact.handles and the graph in step ----------------------------------------


def _write_back(
    session: Session,
    tenant_id: int,
    contact_id: int,
    profile: IdentityProfile,
    *,
    old_handle: str | None = None,
) -> None:
    """Show the linked handle on the Contact (its ``handles`` list) without losing others."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        return
    entries: list[dict[str, Any]] = [dict(h) for h in contact.handles]
    entry = {"network": profile.network, "handle": profile.handle}
    if profile.user_id:
        entry["user_id"] = profile.user_id
    for i, current in enumerate(entries):
        if current.get("network") != profile.network:
            continue
        same_id = profile.user_id is not None and current.get("user_id") == profile.user_id
        same_handle = _same_handle(current.get("handle"), profile, old_handle)
        if same_id or same_handle:
            if current == entry:
                return
            entries[i] = entry
            break
    else:
        entries.append(entry)
    _skipped(session).add(contact_id)
    crm.update(session, Contact, contact_id, {"handles": entries})


def _same_handle(value: object, profile: IdentityProfile, old_handle: str | None) -> bool:
    if not isinstance(value, str):
        return False
    try:
        text = normalise_handle(value, profile.network).handle
    except ImpossibleHandle:
        return False
    return text in {profile.handle, old_handle}


def _drop_from_contact(
    session: Session, tenant_id: int, contact_id: int, profile: IdentityProfile
) -> None:
    contact = session.get(Contact, contact_id)
    if contact is None:
        return
    kept = [
        h
        for h in contact.handles
        if not (
            h.get("network") == profile.network
            and (
                (profile.user_id is not None and h.get("user_id") == profile.user_id)
                or _same_handle(h.get("handle"), profile, None)
            )
        )
    ]
    if len(kept) != len(contact.handles):
        _skipped(session).add(contact_id)
        crm.update(session, Contact, contact_id, {"handles": kept})


def sync_contact(session: Session, tenant_id: int, contact_id: int) -> int:
    """Bring the graph in line with a Contact's ``handles`` list; returns handles linked."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        return 0
    linked = 0
    for entry in list(contact.handles):
        try:
            result = record_identity(
                session,
                contact_id,
                str(entry.get("network", "")),
                entry.get("user_id") or None,
                str(entry.get("handle", "")),
                "contact",
            )
        except ImpossibleHandle as exc:
            # A handle the CRM accepted but no network could have: nothing to link, said so.
            _not_linked(session, tenant_id, contact_id, entry, exc)
            continue
        if result.conflict_contact_id is not None:
            reviews.open_conflict(session, tenant_id, result.profile, contact_id)
        else:
            linked += 1
    return linked


def _not_linked(
    session: Session, tenant_id: int, contact_id: int, entry: dict[str, Any], exc: ImpossibleHandle
) -> None:
    """Why a Contact's handle is not in the graph, in the review queue (asked once)."""
    log.info("identity.handle_not_linked", contact_id=contact_id, network=entry.get("network"))
    reviews.open_review(
        session,
        tenant_id,
        kind=ReviewKind.NOT_LINKED,
        reason=str(exc),
        network=str(entry.get("network", ""))[:20],
        handle=str(entry.get("handle", "")),
        user_id=entry.get("user_id") or None,
        candidate_contact_id=contact_id,
    )


def record_profile_link(
    session: Session,
    tenant_id: int,
    contact_id: int,
    network: str,
    user_id: str,
    handle: str,
    *,
    linked: bool,
) -> None:
    """A profile linked to a Contact elsewhere (enrichment: auto-linked or confirmed) joins
    the graph under its platform user id; a withdrawn link leaves it again, unless the graph
    knows the account from somewhere else too (the Contact's handles, a review)."""
    with _as_tenant(session, tenant_id):
        if not linked:
            _unlink(session, tenant_id, contact_id, network, user_id, handle)
            return
        entry = {"network": network, "handle": handle, "user_id": user_id}
        try:
            result = record_identity(session, contact_id, network, user_id, handle, "enrichment")
        except ImpossibleHandle as exc:
            _not_linked(session, tenant_id, contact_id, entry, exc)
            return
        if result.conflict_contact_id is not None:
            reviews.open_conflict(session, tenant_id, result.profile, contact_id)


def _unlink(
    session: Session, tenant_id: int, contact_id: int, network: str, user_id: str, handle: str
) -> None:
    try:
        n = _normalised(session, tenant_id, handle, network)
    except ImpossibleHandle:
        return  # never linked
    uid = _graph_user_id(n, user_id)
    profile = profile_by_user_id(session, tenant_id, n.network.value, uid) if uid else None
    if profile is None or profile.contact_id != contact_id or profile.source != "enrichment":
        return
    profile.contact_id = None
    invalidate(session, tenant_id, contact_ids=(contact_id,), keys=cache_keys(tenant_id, profile))
    session.flush()


@contextmanager
def _as_tenant(session: Session, tenant_id: int) -> Iterator[None]:
    """Graph writes name their tenant; a system session borrows the record's for a moment."""
    original = session.info.get("tenant_id")
    if original is None:
        session.info["tenant_id"] = tenant_id
    try:
        yield
    finally:
        session.info["tenant_id"] = original


# --- handlers of the CRM's and enrichment's events (wired in socialcrm.wiring) ---------------


@dataclass(frozen=True, slots=True)
class ContactHandlesChanged:
    """Identity's own: a Contact's handles changed elsewhere, the graph follows before commit."""

    tenant_id: int
    contact_id: int


def on_contact_changed(session: Session, change: ContactChanged) -> None:
    """NOW: an edit drops the cached answers (they carry its profile data), here and in every
    process; new or changed handles are linked before the commit (``sync_changed_contact``),
    unless the graph wrote them itself."""
    if not change.created:
        invalidate(session, change.tenant_id, contact_ids=(change.contact_id,))
    if change.contact_id in _skipped(session):
        return
    if change.created:
        contact = session.get(Contact, change.contact_id)
        relevant = contact is not None and bool(contact.handles)
    else:
        relevant = "handles" in change.fields
    if relevant:
        events.emit(session, ContactHandlesChanged(change.tenant_id, change.contact_id))


def _skipped(session: Session) -> set[int]:
    """Contacts whose handles the graph itself wrote in this unit of work (no sync back)."""
    skipped: set[int] = events.unit_state(session, _SKIP_SYNC, set)
    return skipped


def on_contact_erased(session: Session, erased: ContactErased) -> None:
    invalidate(session, erased.tenant_id, contact_ids=(erased.contact_id,))


def sync_changed_contact(session: Session, change: ContactHandlesChanged) -> None:
    """BEFORE_COMMIT: Contacts created or edited anywhere (API, UI, import) become resolvable
    at once. A failure is logged and leaves the Contact's edit alone."""
    try:
        with _as_tenant(session, change.tenant_id), session.begin_nested():
            sync_contact(session, change.tenant_id, change.contact_id)
    except (sa_exc.SQLAlchemyError, ValueError) as exc:
        log.warning(
            "identity.contact_sync_failed",
            contact_id=change.contact_id,
            error_type=type(exc).__name__,
        )
