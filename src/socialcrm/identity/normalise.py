"""Normalise what a social channel sends as a handle into one comparable identity key.

Pure. Order: trim, NFKC, then the network's own syntax (``providers.handles``: ``@``
stripped, profile URLs and ``@user@instance`` accepted, impossible handles refused), then
case-fold. The result carries its confusable skeleton so look-alikes can be found by index.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace

from socialcrm.identity.homoglyphs import skeleton
from socialcrm.providers.handles import (
    InvalidHandle,
    Network,
    ParsedHandle,
    canonical_url,
    parse_handle,
)
from socialcrm.providers.registry import ALIASES, network_named

MAX_INPUT = 2048
# Kinds whose value is a case-sensitive or already-canonical id: never case-folded.
_CASE_SENSITIVE_KINDS = frozenset({"channel", "did"})
# Kinds shown as ``kind/name`` because the bare name would mean another kind of page.
_PATH_KINDS = {
    Network.LINKEDIN: frozenset({"company", "school", "showcase"}),
    Network.YOUTUBE: frozenset({"c", "user"}),
}


class ImpossibleHandle(ValueError):
    """The text cannot be a handle of the channel's network.

    ``skeleton`` is the look-alike class of the bare text when one could be taken (so a spoof
    like ``j\u043ehn_doe`` with a Cyrillic ``\u043e`` can still be recognised as an impersonation).
    """

    def __init__(self, message: str, *, network: Network | None, bare_skeleton: str = "") -> None:
        super().__init__(message)
        self.network = network
        self.skeleton = bare_skeleton


@dataclass(frozen=True, slots=True)
class NormalisedHandle:
    """One handle of one network, normalised.

    ``handle``: how we store and show it (Mastodon ``user@instance``, LinkedIn ``company/x``
    for non-person pages); ``local``: the bare account name, comparable across networks;
    ``url``: the canonical profile URL; ``user_id``: a stable id the text itself carried
    (Bluesky DID, YouTube channel, Facebook numeric id).
    """

    network: Network
    handle: str
    local: str
    skeleton: str
    url: str
    user_id: str | None = None
    instance: str | None = None
    # The skeleton of the handle as the sender wrote it (case kept: a capital I imitates l).
    sent_skeleton: str = field(default="", compare=False)

    @property
    def skeletons(self) -> tuple[str, ...]:
        return (self.skeleton, self.sent_skeleton) if self.sent_skeleton else (self.skeleton,)


def channel_network(channel: str) -> Network:
    """The network a channel name stands for (``twitter`` is X)."""
    name = unicodedata.normalize("NFKC", channel).strip().casefold()
    network = network_named(name)  # a network's name, or an alias its adapter declares
    if network is not None:
        return Network(network)
    known = ", ".join([n.value for n in Network] + list(ALIASES))
    raise ImpossibleHandle(f"unknown channel {channel!r} (known: {known})", network=None)


def normalise_handle(text: str, channel: str) -> NormalisedHandle:
    """Validate and normalise ``text`` as a handle or profile URL of ``channel``'s network."""
    network = channel_network(channel)
    if len(text) > MAX_INPUT:
        raise ImpossibleHandle("the handle is too long", network=network)
    value = unicodedata.normalize("NFKC", text).strip()
    if not value or value == "@":
        raise ImpossibleHandle("the handle is empty", network=network)
    try:
        parsed = parse_handle(value, network.value)
    except InvalidHandle as exc:
        raise ImpossibleHandle(
            f"not a valid {network.value} handle: {exc}",
            network=network,
            bare_skeleton=_bare_skeleton(value, network),
        ) from None
    if parsed is None:
        raise ImpossibleHandle(f"not a profile of {network.value}: {text[:200]!r}", network=network)
    result = _from_parsed(parsed)
    sent = value.removeprefix("@")
    if sent != result.handle and sent.casefold() == result.handle.casefold():
        result = replace(result, sent_skeleton=skeleton(sent))
    return result


def _from_parsed(parsed: ParsedHandle) -> NormalisedHandle:
    name = parsed.handle
    if parsed.kind not in _CASE_SENSITIVE_KINDS:
        name = name.casefold()
        parsed = ParsedHandle(parsed.network, name, parsed.kind, parsed.user_id, parsed.instance)
    handle = name
    if parsed.network is Network.MASTODON:
        handle = f"{name}@{parsed.instance}"
    elif parsed.kind in _PATH_KINDS.get(parsed.network, ()):
        handle = f"{parsed.kind}/{name}"
    local = name.split(".", 1)[0] if parsed.network is Network.BLUESKY else name
    return NormalisedHandle(
        network=parsed.network,
        handle=handle,
        local=local,
        skeleton=skeleton(handle),
        url=canonical_url(parsed),
        user_id=parsed.user_id,
        instance=parsed.instance,
    )


def _bare_skeleton(value: str, network: Network) -> str:
    """Skeleton of text that failed validation, when it is a bare name (not a URL)."""
    if "/" in value or ":" in value:
        return ""
    bare = value.removeprefix("@")
    if network is Network.MASTODON and "@" not in bare:
        return ""
    return skeleton(bare) if 0 < len(bare) <= 320 else ""


def identity_user_id(network: Network, user_id: str, instance: str | None) -> str:
    """The graph key of a platform user id: Mastodon ids are only unique per instance."""
    value = user_id.strip()
    if network is Network.MASTODON and instance and "@" not in value:
        return f"{value}@{instance}"
    return value
