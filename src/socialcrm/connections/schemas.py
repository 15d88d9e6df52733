"""API shapes of connections. Tokens never leave the server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Len
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from socialcrm.connections.models import AccountStatus, Ownership

Provider = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=20)]


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    scope: Ownership = Ownership.PERSONAL
    instance_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    identifier: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = (
        None
    )
    app_password: Annotated[str, StringConstraints(max_length=200)] | None = None
    # Extra permissions the network offers (``GET /api/providers``), e.g. Mastodon's
    # ``email_lookup``; admin only.
    permissions: Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Len(0, 5)] = []


class AuthorizationOut(BaseModel):
    authorization_url: str
    expires_at: datetime


class ConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    external_user_id: str
    handle: str
    display_name: str
    avatar_url: str
    ownership: Ownership
    owner_user_id: int | None
    scopes: list[str]
    status: AccountStatus
    status_reason: str
    expires_at: datetime | None
    connected_at: datetime
    revoked_at: datetime | None
    provider_revoked: bool


class ConnectionList(BaseModel):
    items: list[ConnectionOut]


class AccountOptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    handle: str
    display_name: str
    avatar_url: str


class AccountChoiceOut(BaseModel):
    """What the person may connect after signing in (Facebook: their Pages)."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    provider: str
    expires_at: datetime
    options: list[AccountOptionOut]


class AccountChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[
        list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]],
        Field(min_length=1, max_length=100),
    ]


class ProviderAppIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    client_secret: Annotated[str, StringConstraints(max_length=2000)] = ""
    instance_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""


class ProviderAppOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider: str
    instance_url: str
    client_id: str
    has_secret: bool


class ProviderOut(BaseModel):
    name: str
    display_name: str
    capabilities: list[str]
    connect_with: str  # "oauth" | "app_password"
    optional_permissions: list[str]
    redirect_uri: str
    # What the network demands before it allows a capability (App Review, an audit, ...).
    requires: dict[str, str] = {}
    picks_accounts: bool = False  # connecting ends with picking (Facebook: which Pages)
