"""One profile per network where a person has one (Facebook, LinkedIn: the adapter says so).

Linking a second profile there replaces the first only when a person says so (``replace``);
otherwise it is a conflict that names the profile linked now. Networks where people
legitimately have several (Mastodon on two instances, X) keep every link.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import Conflict
from socialcrm.core.principal import Principal
from socialcrm.enrichment.models import LinkStatus, SocialProfileLink
from socialcrm.providers.registry import PROVIDERS

HELD = (LinkStatus.LINKED, LinkStatus.STALE)  # the profile the Contact has on a network


class ReplaceRequired(Conflict):
    """The Contact already has its one profile on the network: replace it, or keep it."""

    def __init__(self, network: str, linked: Sequence[SocialProfileLink], handle: str) -> None:
        name = PROVIDERS[network].display_name
        current = linked[0]
        super().__init__(
            f"this Contact already has a {name} profile (@{current.handle}) and a person has "
            f"one there: send replace=true to replace it with @{handle}",
            details={
                "provider": network,
                "linked": [
                    {"id": lk.id, "handle": lk.handle, "profile_url": lk.profile_url}
                    for lk in linked
                ],
                "replace": "repeat the request with replace=true",
            },
        )
        # Plain values: the page showing the confirm step outlives the unit of work.
        self.network, self.current_handle, self.handle = name, current.handle, handle


def one_per_person(network: str) -> bool:
    info = PROVIDERS.get(network)
    return bool(info and info.one_profile_per_person)


def held_besides(
    session: Session, contact_id: int, network: str, user_id: str
) -> list[SocialProfileLink]:
    """The Contact's other profiles on ``network``, if a person has only one there."""
    if not one_per_person(network):
        return []
    return list(
        session.scalars(
            select(SocialProfileLink)
            .where(
                SocialProfileLink.contact_id == contact_id,
                SocialProfileLink.provider == network,
                SocialProfileLink.external_user_id != user_id,
                SocialProfileLink.status.in_(HELD),
            )
            .order_by(SocialProfileLink.id)
        )
    )


def make_room(
    session: Session,
    principal: Principal,
    contact_id: int,
    network: str,
    user_id: str,
    handle: str,
    *,
    replace: bool,
) -> None:
    """Before linking ``user_id``: refuse, or reject (audit-logged) the profile it replaces,
    so the automatic search never suggests that one again."""
    others = held_besides(session, contact_id, network, user_id)
    if not others:
        return
    if not replace:
        raise ReplaceRequired(network, others, handle)
    for other in others:
        other.status, other.use_as_photo = LinkStatus.REJECTED, False
        other.decided_by, other.decided_at, other.stale_since = principal.actor, utcnow(), None
        audit.record(
            session,
            actor=principal.actor,
            action="social_link.replace",
            target_type="social_profile_link",
            target_id=other.id,
            details={"contact_id": contact_id, "provider": network, "by_user_id": user_id},
        )
    session.flush()
