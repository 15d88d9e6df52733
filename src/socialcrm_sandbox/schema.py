"""The world file: pydantic models for the JSON that seeds the sandbox (see docs/providers.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Network = Literal[
    "x", "mastodon", "bluesky", "linkedin", "facebook", "instagram", "youtube", "tiktok"
]
NETWORKS: tuple[Network, ...] = (
    "x",
    "mastodon",
    "bluesky",
    "linkedin",
    "facebook",
    "instagram",
    "youtube",
    "tiktok",
)
OAuthNetwork = Literal["x", "mastodon", "linkedin", "facebook", "instagram", "youtube", "tiktok"]
# What kind of account a world account is, where the network tells kinds apart.
ACCOUNT_TYPES: dict[str, frozenset[str]] = {
    # A Mastodon account's role on its instance: the admin API needs Manage Users (moderator,
    # admin); "user" (the default) has no admin permission.
    "mastodon": frozenset({"user", "moderator", "admin"}),
    "linkedin": frozenset({"member", "organization"}),
    "facebook": frozenset({"page", "person"}),
    "instagram": frozenset({"business", "creator", "personal"}),
}
_USER_IDS: dict[str, re.Pattern[str]] = {
    "bluesky": re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]+"),
    "linkedin": re.compile(r"[A-Za-z0-9_-]{1,40}"),  # organisations numeric, members opaque
    "youtube": re.compile(r"UC[A-Za-z0-9_-]{22}"),  # channel id
    "tiktok": re.compile(r"[A-Za-z0-9_.-]{1,64}"),  # open_id
}
_ID_RULES = {
    "bluesky": "a DID",
    "linkedin": "1-40 of A-Z a-z 0-9 _ -",
    "youtube": "a channel id (UC + 22 characters)",
    "tiktok": "an open_id (1-64 of A-Z a-z 0-9 _ . -)",
}

WORLDS_DIR = Path(__file__).parent / "worlds"
DEMO_WORLD_PATH = WORLDS_DIR / "demo.json"
TEST_WORLD_PATH = WORLDS_DIR / "test.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostSpec(_Strict):
    id: str
    text: str
    created_at: datetime
    public: bool = True
    in_reply_to_id: str | None = None
    like_count: int = Field(default=0, ge=0)
    repost_count: int = Field(default=0, ge=0)
    quote_count: int = Field(default=0, ge=0)
    impression_count: int = Field(default=0, ge=0)

    @field_validator("id")
    @classmethod
    def _numeric_id(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("post ids are numeric strings")
        return value


class AccountSpec(_Strict):
    network: Network
    user_id: str = Field(min_length=1)
    handle: str = Field(min_length=1)
    display_name: str | None = None
    bio: str = ""
    headline: str | None = None
    avatar_url: str | None = None
    followers: int = Field(default=0, ge=0)
    following: int = Field(default=0, ge=0)
    links: list[str] = Field(default_factory=list)
    created_at: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    email_visible: bool = False
    removed: bool = False
    app_password: str | None = None
    account_type: str | None = None  # linkedin member|organization, facebook page|person, ...
    # Handles (same network) of the people who administer this organisation or Page.
    admins: list[str] = Field(default_factory=list)
    posts: list[PostSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _network_identity(self) -> AccountSpec:
        if self.network == "bluesky" and not self.user_id.startswith("did:"):
            raise ValueError(f"bluesky user_id must be a DID, got {self.user_id!r}")
        pattern = _USER_IDS.get(self.network)
        if pattern is None and not self.user_id.isdigit():
            raise ValueError(f"{self.network} user_id must be numeric, got {self.user_id!r}")
        if pattern is not None and not pattern.fullmatch(self.user_id):
            rule = _ID_RULES[self.network]
            raise ValueError(f"{self.network} user_id must be {rule}, got {self.user_id!r}")
        if self.handle.startswith("@"):
            raise ValueError(f"handles carry no '@': {self.handle!r}")
        kinds = ACCOUNT_TYPES.get(self.network)
        if self.account_type is not None and (kinds is None or self.account_type not in kinds):
            allowed = sorted(kinds) if kinds else "none"
            raise ValueError(f"{self.network} account_type must be one of {allowed}")
        return self

    def kind(self) -> str | None:
        """The account type, defaulting to the kind the network's API serves."""
        defaults = {"linkedin": "organization", "facebook": "page", "instagram": "business"}
        return self.account_type or defaults.get(self.network)


class PersonSpec(_Strict):
    name: str
    emails: list[str] = Field(default_factory=list)
    company: str | None = None
    location: str | None = None
    website: str | None = None
    accounts: list[AccountSpec] = Field(default_factory=list)


class AppSpec(_Strict):
    network: OAuthNetwork
    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    redirect_uris: list[str] = Field(min_length=1)
    name: str | None = None
    scopes: list[str] | None = None
    # TikTok: whether the app passed TikTok's audit (unaudited apps may post only SELF_ONLY).
    audited: bool = False


class WorldSpec(_Strict):
    apps: list[AppSpec] = Field(default_factory=list)
    people: list[PersonSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_keys(self) -> WorldSpec:
        _ensure_unique(
            "account user_id",
            [(a.network, a.user_id) for p in self.people for a in p.accounts],
        )
        _ensure_unique(
            "account handle",
            [(a.network, a.handle.lower()) for p in self.people for a in p.accounts],
        )
        _ensure_unique(
            "post id",
            [(a.network, post.id) for p in self.people for a in p.accounts for post in a.posts],
        )
        _ensure_unique("app client_id", [(a.network, a.client_id) for a in self.apps])
        return self


def _ensure_unique(what: str, keys: list[tuple[str, str]]) -> None:
    seen: set[tuple[str, str]] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"duplicate {what}: {key[0]}/{key[1]}")
        seen.add(key)


def load_world_spec(source: dict[str, Any] | Path | str | None = None) -> WorldSpec:
    """Validate a world given as a dict, a JSON file path, or None for the demo world."""
    if source is None:
        source = DEMO_WORLD_PATH
    if isinstance(source, str | Path):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    return WorldSpec.model_validate(source)
