"""What a person can do next with one (post, account) target: the failures a worker writes
that call for a person, and the next steps offered beside a target (API and page alike)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from socialcrm.publishing.models import EDITABLE, PostTarget, TargetStatus

NEEDS_RECONNECT: Final = "the account needs reconnecting before it can publish"
INTERRUPTED: Final = "publishing was interrupted; check the network before posting again"


class Step(StrEnum):
    RECONNECT = "reconnect"  # the account's grant is gone: connect it again, then retry
    RETRY = "retry"  # publish again (a failure that never reached the network)
    CANCEL = "cancel"  # stop this account's publication (still waiting, or stuck)


def retryable(target: PostTarget) -> bool:
    """Failed before the network had the post: sending it again cannot make a duplicate
    (an interrupted attempt is looked for on the network first)."""
    return target.status == TargetStatus.FAILED and not target.external_id


def is_stuck(target: PostTarget, now: datetime) -> bool:
    """In ``publishing`` with nobody on it: its worker died (or a person must look)."""
    return target.status == TargetStatus.PUBLISHING and (
        target.lease_until is None or target.lease_until < now
    )


def next_steps(target: PostTarget, *, account_active: bool, now: datetime) -> list[Step]:
    """The actions that make sense for ``target`` now, the most useful first."""
    steps: list[Step] = []
    if retryable(target):
        if not account_active or target.error == NEEDS_RECONNECT:
            steps.append(Step.RECONNECT)
        steps.append(Step.RETRY)
    if target.status in EDITABLE or (is_stuck(target, now) and not target.external_id):
        steps.append(Step.CANCEL)
    return steps
