"""The roles a user or an API key acts in (no imports: the command line's help loads it)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    AGENT = "agent"
