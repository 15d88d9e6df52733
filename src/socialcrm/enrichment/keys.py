"""Normalised lookup keys of a Contact (email, phone, handle) for screen pops. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers


def email_key(value: str) -> str:
    return value.strip().lower()


def phone_key(value: str) -> str:
    """E.164 when the number parses (with or without ``+``), else its digits."""
    text = value.strip()
    for candidate, region in ((text, None), (f"+{text.lstrip('0')}", None), (text, "US")):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "".join(ch for ch in text if ch.isdigit())


def handle_key(value: str) -> str:
    """``@Ada`` → ``ada``; ``ada@mastodon.social`` keeps its instance."""
    return value.strip().lstrip("@").lower()


def contact_keys(
    emails: Iterable[str],
    phones: Iterable[str | Mapping[str, Any]],
    handles: Iterable[Mapping[str, Any]],
) -> set[tuple[str, str]]:
    """``phones`` are typed (``{"number", "type"}``) or, in rows from before, plain strings."""
    keys: set[tuple[str, str]] = set()
    keys.update(("email", email_key(e)) for e in emails if e and e.strip())
    numbers = (str(p.get("number") or "") if isinstance(p, Mapping) else p for p in phones)
    keys.update(("phone", phone_key(n)) for n in numbers if n and n.strip())
    for h in handles:
        handle = str(h.get("handle", "")) if isinstance(h, Mapping) else ""
        if handle.strip():
            keys.add(("handle", handle_key(handle)))
    return {(kind, value[:320]) for kind, value in keys if value}
