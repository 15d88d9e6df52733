"""A tenant's identity-resolution settings, kept in ``Tenant.policy["identity"]``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from socialcrm.crm.models import Tier

Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
BotId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]

MAX_CACHE_TTL_S = 300  # profile data may be at most five minutes old

# Each entry's words must all be in a message, in any order ("Claim your FREE crypto airdrop"
# matches "airdrop claim"). Chosen so that a customer writing to support does not trip them:
# every entry pairs a lure with a payoff, none is a single common word.
DEFAULT_SPAM_KEYWORDS = (
    # followers and engagement for sale
    "free followers",
    "buy followers",
    "cheap followers",
    "followers instantly",
    "gain followers fast",
    "buy likes",
    "cheap likes",
    "promote your account",
    "dm for promo",
    "dm for collab",
    "promo code in bio",
    "click the link in bio",
    "check my bio",
    # crypto and money lures
    "crypto giveaway",
    "airdrop claim",
    "free crypto",
    "bitcoin doubler",
    "double your bitcoin",
    "double your crypto",
    "send eth receive",
    "send btc receive",
    "connect your wallet",
    "validate your wallet",
    "seed phrase",
    "recover your wallet",
    "guaranteed profit",
    "guaranteed returns",
    "investment opportunity dm",
    "forex signals",
    "binary options",
    "earn money fast",
    "earn per day",
    "work from home earn",
    # prizes and phishing
    "claim your prize",
    "you have won",
    "giveaway winner dm",
    "free gift card",
    "free iphone",
    "verify your account link",
    "account will be suspended",
    "account has been suspended appeal",
    # adult spam
    "hot singles",
    "adult content link",
)


class IdentityPolicy(BaseModel):
    """Defaults suit most tenants; every field can be changed with PUT /api/identity/settings."""

    model_config = ConfigDict(extra="forbid")

    confidence_threshold: Annotated[float, Field(ge=0.5, le=1.0)] = 0.85
    fresh_tiers: Annotated[list[Tier], Field(max_length=10)] = [Tier.PLATINUM]
    cache_ttl_s: Annotated[int, Field(ge=0, le=MAX_CACHE_TTL_S)] = MAX_CACHE_TTL_S
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 100
    min_account_age_days: Annotated[int, Field(ge=0, le=365)] = 7
    bot_user_ids: Annotated[list[BotId], Field(max_length=10_000)] = []
    bot_handles: Annotated[list[BotId], Field(max_length=10_000)] = []
    spam_keywords: Annotated[list[Keyword], Field(max_length=1_000)] = list(DEFAULT_SPAM_KEYWORDS)
    # A resolve answer flags profile data changed within this many hours ("verify preferences").
    recently_updated_hours: Annotated[int, Field(ge=0, le=24 * 365)] = 24
