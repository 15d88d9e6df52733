"""A Contact's phones: each a number with its communication type (mobile, business, fax …).
Pure: no I/O.

Stored as ``{"number", "type"}``. A number given without a type (the API's plain strings,
rows from before typed phones) takes ``DEFAULT_TYPE``, the product's default communication
option type; people change it on the Contact page or with ``PATCH /api/contacts/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PHONE_TYPES = ("business", "mobile", "home", "fax", "other")  # offered; others are allowed
DEFAULT_TYPE = "business"
MAX_TYPE_CHARS = 40


def typed(entry: str | Mapping[str, Any]) -> dict[str, str]:
    """One phone as stored: ``{"number", "type"}`` (type lower-cased, default filled in)."""
    if isinstance(entry, Mapping):
        number = str(entry.get("number") or "").strip()
        kind = " ".join(str(entry.get("type") or "").lower().split())[:MAX_TYPE_CHARS]
    else:
        number, kind = str(entry).strip(), ""
    return {"number": number, "type": kind or DEFAULT_TYPE}


def same_number_key(number: str) -> str:
    """Two spellings of one number (``+1 415-555-0132``, ``+14155550132``) share this key."""
    return ("+" if number.lstrip().startswith("+") else "") + "".join(
        ch for ch in number if ch.isdigit()
    )


def normalise(entries: Iterable[str | Mapping[str, Any]]) -> list[dict[str, str]]:
    """Typed phones without empty numbers; a number listed twice keeps its first type."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for entry in entries:
        phone = typed(entry)
        key = same_number_key(phone["number"])
        if phone["number"] and key not in seen:
            seen.add(key)
            out.append(phone)
    return out


def numbers(entries: Iterable[str | Mapping[str, Any]]) -> list[str]:
    return [typed(e)["number"] for e in entries if typed(e)["number"]]


def label(entry: str | Mapping[str, Any]) -> str:
    """``+49 1512 3456789 (mobile)``: how a phone is shown."""
    phone = typed(entry)
    return f"{phone['number']} ({phone['type']})"
