"""Numbers in what callers type (cursors, ids in forms and addresses): ASCII digits only.

``str.isdigit()`` is true for '²', '٣' or '①', and ``int()`` then refuses some of them (a 500)
or reads others as numbers nobody typed; every such parse goes through here instead.
"""

from __future__ import annotations

from typing import Final

from socialcrm.core.errors import ValidationFailed

MAX_CURSOR_DIGITS: Final = 18  # a cursor is an id; 18 digits stay inside a signed 64-bit int


def is_ascii_number(value: str) -> bool:
    """True for '0' to '9' only, at least one of them."""
    return value.isascii() and value.isdigit()


def ascii_number(value: str, *, max_digits: int) -> int | None:
    """The number ``value`` spells in at most ``max_digits`` ASCII digits, else None."""
    return int(value) if len(value) <= max_digits and is_ascii_number(value) else None


def parse_cursor(value: str | None) -> int | None:
    """The cursor a page handed out (the id of its last row); None or "" is the first page.

    The one parser of every paged route: anything else is a 400 ``validation_error``.
    """
    if value is None or value == "":
        return None
    number = ascii_number(value, max_digits=MAX_CURSOR_DIGITS)
    if number is None:
        raise ValidationFailed("cursor is not valid", details={"cursor": value[:40]})
    return number
