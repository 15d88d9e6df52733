"""The spam pre-filter: a rule's words in any order, the default list, and real traffic."""

from __future__ import annotations

import pytest

from socialcrm.identity.botfilter import BotFilter
from socialcrm.identity.policy import IdentityPolicy
from tests.conftest import unavailable
from tests.datasets import hutto_tweets

DEFAULTS = BotFilter.from_policy(IdentityPolicy())


@pytest.mark.parametrize(
    "message",
    [
        "Claim your FREE crypto airdrop",  # "airdrop claim", words in another order
        "Giveaway time! Crypto for the first 100",  # "crypto giveaway"
        "Get FREE FOLLOWERS now!!!",
        "Send 0.1 ETH and receive 0.2 back",
        "Your account will be suspended unless you verify: bit.ly/x",
        "Connect your wallet to claim the reward",
        "Hot singles in your area",
    ],
)
def test_default_list_catches_common_spam(message: str) -> None:
    assert DEFAULTS.is_spam(message)


@pytest.mark.parametrize(
    "message",
    [
        "My order arrived broken, can you help?",
        "How do I claim the warranty for my phone?",
        "Is the crypto mining app on your store safe?",
        "I lost the link in my bio settings page",
        "",
    ],
)
def test_support_messages_are_not_spam(message: str) -> None:
    assert not DEFAULTS.is_spam(message)


def test_all_words_of_a_rule_must_be_present() -> None:
    only = BotFilter.from_policy(IdentityPolicy(spam_keywords=["airdrop claim", "free  followers"]))
    assert only.is_spam("CLAIM the airdrop")
    assert only.is_spam("followers, for free")
    assert not only.is_spam("the airdrop was yesterday")
    assert not only.is_spam("claimed airdrops")  # whole words only
    none = BotFilter.from_policy(IdentityPolicy(spam_keywords=[]))
    assert not none.is_spam("free followers")


def test_real_tweets_are_not_flagged() -> None:
    """4,200 ordinary tweets (Hutto & Gilbert 2014): the default list flags (almost) none."""
    tweets = hutto_tweets()
    if tweets is None:
        unavailable("PyPI (the vaderSentiment 3.3.2 sdist with Hutto & Gilbert's tweets)")
    flagged = [text for _, text in tweets if DEFAULTS.is_spam(text)]
    assert len(flagged) <= len(tweets) // 500, flagged
