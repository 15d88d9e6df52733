"""How long a post is in each network's own units, and whether it fits: the measuring rule is
the adapter's (``providers/text.py``, each adapter's ``text_rule``)."""

from __future__ import annotations

from dataclasses import dataclass

from socialcrm.providers.registry import text_rule


@dataclass(frozen=True, slots=True)
class TextCount:
    network: str
    used: int
    limit: int
    unit: str

    @property
    def fits(self) -> bool:
        return 0 < self.used <= self.limit

    @property
    def remaining(self) -> int:
        return self.limit - self.used


def count(network: str, text: str, *, direct_message: bool = False) -> TextCount:
    """The text's length as ``network`` measures it, against its post (or DM) limit."""
    rule = text_rule(network)
    limit = rule.dm_limit if direct_message else rule.limit
    if not text.strip():
        return TextCount(network, 0, limit, rule.unit)
    used = rule.dm_length(text) if direct_message else rule.post_length(text)
    return TextCount(network, used, limit, rule.unit)
