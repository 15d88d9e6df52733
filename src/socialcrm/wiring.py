"""The composition root: which domain listens to which, wired in one visible place.

Every entry point that opens units of work calls ``wire()`` before its first one: the web app,
the queue consumers (``socialcrm.tasks``), ``socialcrm serve`` and the demo loader. Importing
this module brings the identity graph's unit-of-work listeners (Contacts saved anywhere are
linked into the graph, their edits drop cached resolve answers): without them, a Contact saved
before some module happened to be imported never reached the graph (``serve --demo`` loaded
its customers so).
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from socialcrm.enrichment import events as enrichment_events
from socialcrm.identity import graph

_lock = threading.Lock()


def wire() -> None:
    """Idempotent."""
    with _lock:
        # A profile enrichment links to a Contact (or unlinks) joins (or leaves) the graph.
        enrichment_events.subscribe(_record_in_identity_graph)


def _record_in_identity_graph(
    session: Session, change: enrichment_events.ProfileLinkChanged
) -> None:
    graph.record_profile_link(
        session,
        change.tenant_id,
        change.contact_id,
        change.network,
        change.user_id,
        change.handle,
        linked=change.linked,
    )
