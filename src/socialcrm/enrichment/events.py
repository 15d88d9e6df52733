"""What enrichment announces to other domains: a profile was linked to a Contact (auto-linked,
confirmed or added by a person), or a link was withdrawn (rejected or deleted).

The announcements are noted when links are flushed, whatever use case changed them, and
handed to the subscribers just before the unit of work commits, inside it: what a subscriber
records (the identity graph, say) commits or rolls back with the link. Subscribers are wired in
``socialcrm.wiring``; one that fails is logged and does not undo the link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import event, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from socialcrm.enrichment.models import LinkStatus, SocialProfileLink

log = structlog.get_logger(__name__)

_PENDING = "socialcrm.enrichment.announcements"


@dataclass(frozen=True, slots=True)
class ProfileLinkChanged:
    """``linked``: the Contact has this profile now; else the link was withdrawn."""

    tenant_id: int
    link_id: int
    contact_id: int
    network: str
    user_id: str
    handle: str
    linked: bool


Subscriber = Callable[[Session, ProfileLinkChanged], None]
subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in subscribers:
        subscribers.append(subscriber)


def _announcement(link: SocialProfileLink, *, linked: bool) -> ProfileLinkChanged:
    return ProfileLinkChanged(
        tenant_id=link.tenant_id,
        link_id=link.id,
        contact_id=link.contact_id,
        network=link.provider,
        user_id=link.external_user_id,
        handle=link.handle,
        linked=linked,
    )


def _changes(session: Session) -> list[ProfileLinkChanged]:
    found: list[ProfileLinkChanged] = []
    for link in session.new:
        if isinstance(link, SocialProfileLink) and link.status == LinkStatus.LINKED:
            found.append(_announcement(link, linked=True))
    for link in session.dirty:
        if not isinstance(link, SocialProfileLink):
            continue
        attrs = inspect(link).attrs
        before = attrs.status.history.deleted
        was_linked = LinkStatus.LINKED in before if before else link.status == LinkStatus.LINKED
        if link.status == LinkStatus.LINKED and (
            not was_linked or attrs.handle.history.has_changes()
        ):
            found.append(_announcement(link, linked=True))
        elif was_linked and link.status == LinkStatus.REJECTED:
            found.append(_announcement(link, linked=False))
    for link in session.deleted:
        if isinstance(link, SocialProfileLink) and link.status == LinkStatus.LINKED:
            found.append(_announcement(link, linked=False))
    return found


@event.listens_for(Session, "after_flush")
def _note(session: Session, _ctx: Any) -> None:
    if subscribers:
        changes = _changes(session)
        if changes:
            session.info.setdefault(_PENDING, []).extend(changes)


def _still_true(session: Session, change: ProfileLinkChanged) -> bool:
    """A savepoint rolled back since the flush may have undone the change."""
    link = session.get(SocialProfileLink, change.link_id)
    now_linked = link is not None and link.status == LinkStatus.LINKED
    return now_linked == change.linked


@event.listens_for(Session, "before_commit")
def _deliver(session: Session) -> None:
    while pending := session.info.pop(_PENDING, None):
        for change in pending:
            if not _still_true(session, change):
                continue
            for subscriber in subscribers:
                try:
                    with session.begin_nested():
                        subscriber(session, change)
                except (sa_exc.SQLAlchemyError, ValueError) as exc:
                    log.warning(
                        "enrichment.announcement_failed",
                        contact_id=change.contact_id,
                        network=change.network,
                        error_type=type(exc).__name__,
                    )


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
