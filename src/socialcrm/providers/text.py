"""How a network measures a post's text: each adapter's ``text_rule`` (limits, unit, counter).

X counts weighted characters (twitter-text v3: CJK and emoji weigh 2, every URL 23), through
``twitter-text-parser``, a port that passes the official conformance suite. Bluesky allows 300
grapheme clusters of the record text. Mastodon allows 500 grapheme clusters, counting every
http(s) URL as 23 and a remote mention ``@user@host`` as ``@user`` (its StatusLengthValidator).
Direct messages are counted in graphemes except on Mastodon (a DM is a status there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import regex  # type: ignore[import-untyped]
from twitter_text import extract_urls_with_indices, parse_tweet  # type: ignore[import-untyped]

MASTODON_URL_LENGTH = 23
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w", re.UNICODE)


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


@dataclass(frozen=True, slots=True)
class TextRule:
    limit: int
    unit: str  # what the network counts: "weighted characters", "graphemes", "characters"
    dm_limit: int
    post_length: Callable[[str], int] = graphemes
    dm_length: Callable[[str], int] = graphemes


# A network no adapter describes (kept for callers that count before validating the name).
DEFAULT_RULE = TextRule(500, "characters", 500)
