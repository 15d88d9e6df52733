"""The composition root of the domain events: who reacts to what, in one visible place.

Every entry point that opens units of work calls ``wire()`` before its first one: the web app,
the queue consumers (``socialcrm.worker``), ``socialcrm serve``, the demo loader (and the test
harness). The events and when each handler runs (``core.events``):

- ``ContactChanged`` (crm), now: enrichment rewrites the screen-pop keys, queues enrichment
  and forgets posts when consent is withdrawn; identity drops cached answers and, when the
  handles changed, emits ``ContactHandlesChanged``.
- ``ContactErased`` (crm), now: enrichment forgets the identity profiles and emits
  ``ProfilesReleased``; identity drops cached answers.
- ``AccountWebsiteChanged`` (crm), now: discovery queues ``discover_account``.
- ``ProfileLinkChanged`` (enrichment), before commit: identity records or withdraws the link.
- ``ProfilesReleased`` (enrichment), before commit: enrichment erases the profiles no other
  Contact shares, and their posts.
- ``ContactHandlesChanged`` (identity), before commit: identity links the handles.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from socialcrm.core.events import When, subscribe
from socialcrm.crm.events import AccountWebsiteChanged, ContactChanged, ContactErased
from socialcrm.discovery import accounts as discovery_accounts
from socialcrm.enrichment import events as enrichment_events
from socialcrm.enrichment import hooks as enrichment_hooks
from socialcrm.identity import graph

log = structlog.get_logger(__name__)

_lock = threading.Lock()


def wire() -> None:
    """Idempotent."""
    with _lock:
        subscribe(ContactChanged, enrichment_hooks.on_contact_changed, When.NOW)
        subscribe(ContactChanged, graph.on_contact_changed, When.NOW)
        subscribe(ContactErased, enrichment_hooks.on_contact_erased, When.NOW)
        subscribe(ContactErased, graph.on_contact_erased, When.NOW)
        subscribe(AccountWebsiteChanged, discovery_accounts.on_website_changed, When.NOW)
        subscribe(
            enrichment_events.ProfileLinkChanged, _record_in_identity_graph, When.BEFORE_COMMIT
        )
        subscribe(
            enrichment_hooks.ProfilesReleased,
            enrichment_hooks.on_profiles_released,
            When.BEFORE_COMMIT,
        )
        subscribe(graph.ContactHandlesChanged, graph.sync_changed_contact, When.BEFORE_COMMIT)


def _record_in_identity_graph(
    session: Session, change: enrichment_events.ProfileLinkChanged
) -> None:
    """A profile enrichment links to a Contact (or unlinks) joins (or leaves) the graph; one
    that fails is logged and does not undo the link."""
    if not enrichment_events.still_true(session, change):
        return
    try:
        with session.begin_nested():
            graph.record_profile_link(
                session,
                change.tenant_id,
                change.contact_id,
                change.network,
                change.user_id,
                change.handle,
                linked=change.linked,
            )
    except (sa_exc.SQLAlchemyError, ValueError) as exc:
        log.warning(
            "enrichment.announcement_failed",
            contact_id=change.contact_id,
            network=change.network,
            error_type=type(exc).__name__,
        )
