"""Find a post whose answer was lost among the account's recent posts (pure, no I/O).

A publish call that timed out, hit a 5xx or died with its worker may have created the post.
Before anything is sent again, the account's recent posts are read and the one carrying our
text, created since the first attempt and not already another target's, is adopted. Networks
rewrite what they show (X wraps links in t.co, Mastodon renders HTML and starts replies with
``@author``), so after an exact match the text is compared without links, leading mentions,
case and spacing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from socialcrm.providers.base import PostData

# A network's clock and ours differ a little: a post may look older than our first attempt.
CLOCK_SKEW = timedelta(minutes=2)
RECENT_POSTS = 20  # how far back the account's timeline is read

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Mastodon's adapter starts a reply with ``@author`` so that the author is notified.
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.-]+(?:@[\w.-]+)?\s+)+")


def comparable(text: str) -> str:
    """``text`` as networks may show it back: no links, no leading @mentions, one case,
    single spaces."""
    folded = _SPACE.sub(" ", _URL.sub(" ", unicodedata.normalize("NFKC", text))).strip()
    return _LEADING_MENTIONS.sub("", folded).casefold()


def find_published(
    posts: Sequence[PostData],
    text: str,
    *,
    since: datetime,
    taken: Collection[str] = (),
    in_reply_to_id: str | None = None,
) -> PostData | None:
    """The oldest of ``posts`` that is ours: same text (exactly, else comparably), created
    since ``since`` (less the clock skew), replying to ``in_reply_to_id`` (None: a top-level
    post), and not one of the ids in ``taken`` (already adopted by another target)."""
    earliest = since - CLOCK_SKEW
    candidates = [
        p
        for p in posts
        if p.id not in taken
        and (p.in_reply_to_id or None) == (in_reply_to_id or None)
        and (p.created_at is None or p.created_at >= earliest)
    ]
    wanted = comparable(text)
    for match in (
        lambda p: p.text == text,
        lambda p: bool(wanted) and comparable(p.text) == wanted,
    ):
        found = [p for p in candidates if match(p)]
        if found:
            return min(found, key=lambda p: (p.created_at is None, p.created_at or since))
    return None
