"""How long a post is in each network's own units, and whether it fits.

X counts weighted characters (twitter-text v3: CJK and emoji weigh 2, every URL 23), through
``twitter-text-parser``, a port that passes the official conformance suite. Bluesky allows 300
grapheme clusters of the record text. Mastodon allows 500 grapheme clusters, counting every
http(s) URL as 23 and a remote mention ``@user@host`` as ``@user`` (its StatusLengthValidator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex  # type: ignore[import-untyped]
from twitter_text import extract_urls_with_indices, parse_tweet  # type: ignore[import-untyped]

MASTODON_URL_LENGTH = 23
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NetworkRule:
    network: str
    limit: int
    unit: str  # what the network counts: "weighted characters", "graphemes", "characters"
    dm_limit: int


RULES: dict[str, NetworkRule] = {
    "x": NetworkRule("x", 280, "weighted characters", 10_000),
    "bluesky": NetworkRule("bluesky", 300, "graphemes", 1000),
    "mastodon": NetworkRule("mastodon", 500, "characters", 500),
    "linkedin": NetworkRule("linkedin", 3000, "characters", 8000),
    "facebook": NetworkRule("facebook", 63_206, "characters", 2000),
    "instagram": NetworkRule("instagram", 2200, "characters", 1000),
    "youtube": NetworkRule("youtube", 10_000, "characters", 10_000),
    "tiktok": NetworkRule("tiktok", 2200, "characters", 1000),
}


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


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters, UAX #29)."""
    return len(regex.findall(r"\X", text))


def x_weighted_length(text: str) -> int:
    return int(parse_tweet(text).weightedLength)


def mastodon_length(text: str) -> int:
    urls = extract_urls_with_indices(text, extract_urls_without_protocol=False)
    pieces: list[str] = []
    cursor = 0
    for found in sorted(urls, key=lambda u: u["indices"][0]):
        start, end = found["indices"]
        pieces.append(text[cursor:start])
        pieces.append("x" * MASTODON_URL_LENGTH)
        cursor = end
    pieces.append(text[cursor:])
    countable = _REMOTE_MENTION.sub(r"@\1", "".join(pieces))
    return graphemes(countable)


def rule_for(network: str) -> NetworkRule:
    return RULES.get(network) or NetworkRule(network, 500, "characters", 500)


def count(network: str, text: str, *, direct_message: bool = False) -> TextCount:
    """The text's length as ``network`` measures it, against its post (or DM) limit."""
    rule = rule_for(network)
    limit = rule.dm_limit if direct_message else rule.limit
    if not text.strip():
        return TextCount(network, 0, limit, rule.unit)
    if network == "x" and not direct_message:
        used = x_weighted_length(text)
    elif network == "mastodon":
        used = mastodon_length(text)
    else:
        used = graphemes(text)
    return TextCount(network, used, limit, rule.unit)
