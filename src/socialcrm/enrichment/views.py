"""Turn enrichment reads into API shapes (shared by the API and the UI)."""

from __future__ import annotations

from socialcrm.crm.schemas import ContactOut
from socialcrm.enrichment import schemas
from socialcrm.enrichment.links import SocialView
from socialcrm.enrichment.models import LinkStatus


def social_out(view: SocialView) -> schemas.SocialOut:
    links = []
    for item in view.links:
        out = schemas.LinkWithSnapshot.model_validate(item.link, from_attributes=True)
        out.snapshot = schemas.SnapshotOut.model_validate(item.snapshot) if item.snapshot else None
        out.posts = [schemas.PostOut.model_validate(p) for p in item.posts]
        links.append(out)
    return schemas.SocialOut(
        contact_id=view.contact.id,
        photo_url=view.photo_url,
        enrichment_consent=view.contact.enrichment_consent,
        posts_allowed=view.posts_allowed,
        links=links,
    )


def screen_pop_out(view: SocialView) -> schemas.ScreenPopOut:
    networks = []
    for item in view.links:
        if item.link.status != LinkStatus.LINKED:
            continue
        snap = item.snapshot
        networks.append(
            schemas.NetworkSummary(
                provider=item.link.provider,
                handle=item.link.handle,
                profile_url=item.link.profile_url,
                avatar_url=snap.avatar_url if snap else "",
                headline=(snap.headline or snap.bio[:160]) if snap else "",
                followers=snap.followers if snap else None,
            )
        )
    photo = view.photo_url or next((n.avatar_url for n in networks if n.avatar_url), "")
    return schemas.ScreenPopOut(
        contact=ContactOut.model_validate(view.contact).model_dump(mode="json"),
        photo_url=photo,
        networks=networks,
        suggestions=sum(1 for i in view.links if i.link.status == LinkStatus.SUGGESTED),
    )
