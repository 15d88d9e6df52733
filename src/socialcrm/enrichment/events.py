"""What enrichment announces to other domains: a profile was linked to a Contact (auto-linked,
confirmed or added by a person), or a link was withdrawn (rejected or deleted).

The announcements come from the flushed links themselves (``core.events.track``), whatever
use case changed them; subscribers take them before the unit of work commits, inside it, so
what a subscriber records (the identity graph, say) commits or rolls back with the link, and
should check ``still_true`` first (a savepoint rolled back since may have undone the change).
Subscribers are wired in ``socialcrm.wiring``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from socialcrm.core import events
from socialcrm.enrichment.models import LinkStatus, SocialProfileLink


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


def _written(link: SocialProfileLink, change: events.Change) -> Iterator[ProfileLinkChanged]:
    if change.created:
        if link.status == LinkStatus.LINKED:
            yield _announcement(link, linked=True)
        return
    before = change.previous.get("status", link.status) if "status" in change.fields else None
    was_linked = (
        before == LinkStatus.LINKED if before is not None else link.status == LinkStatus.LINKED
    )
    if link.status == LinkStatus.LINKED and (not was_linked or "handle" in change.fields):
        yield _announcement(link, linked=True)
    elif was_linked and link.status == LinkStatus.REJECTED:
        yield _announcement(link, linked=False)


def _deleting(link: SocialProfileLink) -> Iterator[ProfileLinkChanged]:
    if link.status == LinkStatus.LINKED and link.id is not None:
        yield _announcement(link, linked=False)


def still_true(session: Session, change: ProfileLinkChanged) -> bool:
    """A savepoint rolled back since the flush may have undone the change."""
    link = session.get(SocialProfileLink, change.link_id)
    now_linked = link is not None and link.status == LinkStatus.LINKED
    return now_linked == change.linked


events.track(SocialProfileLink, written=_written, deleting=_deleting)
