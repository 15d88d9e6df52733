"""Split a message body into the participants' own texts: the reply on top, then every quoted
reply and forwarded message under it (quotequail), so each author's signature is read."""

from __future__ import annotations

import re
from dataclasses import dataclass

import quotequail  # type: ignore[import-untyped]

from socialcrm.signatures.mime import Address

MAX_DEPTH = 12
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-']*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,24}")
_DATE_WORDS = frozenset(
    [
        "at",
        "am",
        "pm",
        "um",
        "à",
        "a",
        "las",
        "alle",
        "om",
        "em",
        "on",
        "le",
        "el",
        "il",
        "de",
        "den",
        "der",
        "wrote",
        "schrieb",
        "écrit",
        "escribió",
        "scritto",
        "geschreven",
    ]
)


# quotequail tries every pattern on every line; most mails have no quote at all, and these
# are the markers without which it finds none (a cheap pre-check, 5x faster on such mails).
_MAY_QUOTE = re.compile(
    r"^\s*>|^\s*[-_=]{4,}|wrote|schrieb|écrit|escribi|scritto|schreef|escreveu|napisa|skrev|"
    r"kirjoitti|написал|^\s*\*?(from|von|de|da|van|od|från|fra|expéditeur|remitente)\s*:|"
    r"forwarded|weitergeleitet|transféré|reenviado|inoltrato|doorgestuurd|original",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Segment:
    """One author's own text in a thread; ``author`` may lack an address (``email == ''``)."""

    author: Address
    text: str
    kind: str  # top | reply | forward
    date: str = ""


def split_thread(text: str, sender: Address | None) -> list[Segment]:
    author = sender or Address(name="", email="")
    segments: list[Segment] = []
    current, kind, date = text, "top", ""
    for _ in range(MAX_DEPTH):
        try:
            unwrapped = quotequail.unwrap(current) if _MAY_QUOTE.search(current) else None
        except Exception:  # quotequail is heuristic; a failure means "no more quoting"
            unwrapped = None
        if not unwrapped:
            segments.append(Segment(author, _unquote(current), kind, date))
            break
        segments.append(Segment(author, unwrapped.get("text_top", ""), kind, date))
        author = parse_author(unwrapped.get("from", ""))
        kind = "forward" if unwrapped.get("type") == "forward" else "reply"
        date = unwrapped.get("date", "")[:80]
        current = unwrapped.get("text", "")
        if not current.strip():
            break
    return [s for s in segments if s.text.strip() or s.author.email]


def _unquote(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def parse_author(value: str) -> Address:
    """``Bob Miller <bob@x.com>``, ``Bob Miller [mailto:bob@x.com]``, ``2025 at 10:12 Bob
    Miller <bob@x.com>`` (reply intros mix the date in) or ``bob@x.com``."""
    match = _EMAIL_IN_TEXT.search(value)
    email = match.group(0).lower().rstrip(".") if match else ""
    before = value[: match.start()] if match else value
    before = re.sub(r"[<\[(]\s*(mailto:)?\s*$", "", before.strip()).strip()
    before = before.replace('"', "").strip(" ,;'")
    tokens = before.split()
    name: list[str] = []
    for token in reversed(tokens):
        bare = token.strip(",;:")
        if not bare or any(ch.isdigit() for ch in bare) or bare.lower() in _DATE_WORDS:
            break
        name.insert(0, bare)
    last_first = re.fullmatch(r"([^\W\d_][\w'\-]*),\s*([^\W\d_][\w'\-]*)", before)
    if last_first:  # Outlook's "Miller, Bob"
        name = [last_first.group(2), last_first.group(1)]
    return Address(name=" ".join(name[-5:]), email=email)
