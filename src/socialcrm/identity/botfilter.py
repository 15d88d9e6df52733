"""The bot pre-filter: cheap checks that run before any resolution work. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from socialcrm.identity.policy import IdentityPolicy


@dataclass(frozen=True, slots=True)
class BotFilter:
    """A tenant's compiled bot rules (built once per policy, reused per request)."""

    user_ids: frozenset[str]
    handles: frozenset[str]
    spam: re.Pattern[str] | None
    min_age: timedelta

    @classmethod
    def from_policy(cls, policy: IdentityPolicy) -> BotFilter:
        words = sorted({k.casefold() for k in policy.spam_keywords}, key=len, reverse=True)
        spam = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")
            if words
            else None
        )
        return cls(
            user_ids=frozenset(u.strip() for u in policy.bot_user_ids),
            handles=frozenset(h.strip().removeprefix("@").casefold() for h in policy.bot_handles),
            spam=spam,
            min_age=timedelta(days=policy.min_account_age_days),
        )

    def verdict(
        self,
        *,
        user_id: str | None,
        handle: str,
        message: str | None,
        account_created_at: datetime | None,
        now: datetime,
    ) -> str | None:
        """The first bot signal that fires (``known_bot``, ``new_account``, ``spam``) or None."""
        if (user_id is not None and user_id in self.user_ids) or handle in self.handles:
            return "known_bot"
        if account_created_at is not None and now - account_created_at < self.min_age:
            return "new_account"
        if message and self.spam is not None and self.spam.search(message.casefold()):
            return "spam"
        return None
