"""Which handles a post's text mentions, by each network's own mention syntax."""

from __future__ import annotations

import re

from socialcrm_sandbox.schema import Network

# "@" not glued to a word (so "ada@example.com" is an email, not a mention).
_X = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")
_MASTODON = re.compile(r"(?<![\w@/])@(\w+)(?:@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))?")
_BLUESKY = re.compile(r"(?<![\w@])@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+)")

# Facebook tags Pages by username, Instagram tags usernames; the others' @-names only render.
_DOTTED = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)")

PATTERNS: dict[Network, re.Pattern[str]] = {
    "x": _X,
    "mastodon": _MASTODON,
    "bluesky": _BLUESKY,
    "linkedin": _DOTTED,
    "facebook": _DOTTED,
    "instagram": _DOTTED,
    "youtube": _DOTTED,
    "tiktok": _DOTTED,
}


def mentioned_handles(network: Network, text: str) -> list[str]:
    """Lower-cased handles mentioned in ``text``, first occurrence order, without duplicates."""
    found: list[str] = []
    for match in PATTERNS[network].finditer(text):
        handle = match.group(1).lower().rstrip(".")
        if handle not in found:
            found.append(handle)
    return found
