"""What an admin sends to manage the tenant's users and API keys (the Admin area's forms)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from socialcrm.core.principal import Role

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    role: Role = Role.AGENT
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]


class UserChange(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = ""
    role: Role = Role.ADMIN
