"""The bot pre-filter: cheap checks that run before any resolution work. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from socialcrm.identity.policy import IdentityPolicy

_WORD = re.compile(r"\w+")


def words_of(text: str) -> frozenset[str]:
    """The case-folded words of ``text``."""
    return frozenset(_WORD.findall(text.casefold()))


@dataclass(frozen=True, slots=True)
class BotFilter:
    """A tenant's compiled bot rules (built once per policy, reused per request)."""

    user_ids: frozenset[str]
    handles: frozenset[str]
    # A spam rule is a set of words that must all be in a message, in any order. Each rule is
    # filed under its longest word, so a message is checked only against rules one of whose
    # words it contains.
    spam: Mapping[str, tuple[frozenset[str], ...]]
    min_age: timedelta

    @classmethod
    def from_policy(cls, policy: IdentityPolicy) -> BotFilter:
        index: dict[str, list[frozenset[str]]] = {}
        for keyword in policy.spam_keywords:
            words = frozenset(words_of(keyword))
            if words:
                index.setdefault(max(words, key=lambda w: (len(w), w)), []).append(words)
        return cls(
            user_ids=frozenset(u.strip() for u in policy.bot_user_ids),
            handles=frozenset(h.strip().removeprefix("@").casefold() for h in policy.bot_handles),
            spam={word: tuple(rules) for word, rules in index.items()},
            min_age=timedelta(days=policy.min_account_age_days),
        )

    def is_spam(self, message: str) -> bool:
        """Every word of some spam rule is in ``message`` (any order, any case)."""
        words = words_of(message)
        return any(
            rule <= words for word in words.intersection(self.spam) for rule in self.spam[word]
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
        if message and self.spam and self.is_spam(message):
            return "spam"
        return None
