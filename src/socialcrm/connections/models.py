"""Connected social accounts, pending OAuth states and tenants' own app credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.crypto import EncryptedString
from socialcrm.core.db import Base, TenantScoped, utcnow


class AccountStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    ERROR = "error"  # the grant is revoked or invalid: a person must reconnect


class Ownership(StrEnum):
    PERSONAL = "personal"
    BRAND = "brand"


class SocialAccount(TenantScoped, Base):
    __tablename__ = "social_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "external_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    avatar_url: Mapped[str] = mapped_column(String(1000), default="")
    instance_url: Mapped[str] = mapped_column(String(500), default="")
    ownership: Mapped[Ownership] = mapped_column(String(10), default=Ownership.PERSONAL)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    access_token: Mapped[str | None] = mapped_column(EncryptedString(4000), default=None)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedString(4000), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[AccountStatus] = mapped_column(String(10), default=AccountStatus.ACTIVE)
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    # A refresh under way (claimed until then): the next one waits for it, not the network.
    refresh_claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_revoked: Mapped[bool] = mapped_column(default=False)


class OAuthState(TenantScoped, Base):
    """A pending authorization: binds tenant, user and PKCE verifier; single-use, 10 minutes."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    ownership: Mapped[Ownership] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    actor: Mapped[str] = mapped_column(String(80))
    code_verifier: Mapped[str] = mapped_column(EncryptedString(1000))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    instance_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ProviderApp(TenantScoped, Base):
    """A tenant's own OAuth client for a network, so tenants do not share one API quota."""

    __tablename__ = "provider_apps"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "instance_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    instance_url: Mapped[str] = mapped_column(String(500), default="")
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret: Mapped[str | None] = mapped_column(EncryptedString(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountChoice(TenantScoped, Base):
    """The accounts a person may connect after signing in (Facebook: the Pages they manage),
    each with the token that acts as it, encrypted until they pick; single-use, 10 minutes."""

    __tablename__ = "account_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    ownership: Mapped[Ownership] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    actor: Mapped[str] = mapped_column(String(80))
    # JSON list of {"id","handle","display_name","avatar_url","token","expires_at"}.
    offered: Mapped[str] = mapped_column(EncryptedString())
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
