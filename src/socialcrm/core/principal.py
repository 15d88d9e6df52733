"""Who is calling: the roles a user or an API key acts in, and the principal a request runs as.

No imports beyond the standard library: the command line's help loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant, a role, and the user or key acting."""

    tenant_id: int
    role: Role
    user_id: int | None
    api_key_id: int | None = None

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"
