"""Everything one running sandbox remembers, behind one lock."""

from __future__ import annotations

import threading

from socialcrm_sandbox.grants import Grants
from socialcrm_sandbox.schema import WorldSpec
from socialcrm_sandbox.times import Clock, system_clock
from socialcrm_sandbox.traffic import Traffic
from socialcrm_sandbox.world import World

# The Mastodon version the sandbox's instance reports. PKCE (and the OAuth server metadata
# document) arrived in 4.3.0; older instances ignore ``code_challenge`` and answer 404 there.
MASTODON_VERSION = "4.3.0"


class SandboxState:
    """The world, the credentials and the traffic rules; ``reset`` returns to the loaded file."""

    def __init__(self, spec: WorldSpec, clock: Clock = system_clock) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.spec = spec
        self.world = World(spec, self.lock, clock)
        self.grants = Grants(spec.apps, self.lock, clock)
        self.traffic = Traffic(self.lock)
        self.mastodon_version = MASTODON_VERSION
        # X's field names: "classic" (the API reference: tweet_count, retweet_count, ...) or
        # "spec" (X's OpenAPI specification 2.167 as xdk ships it: post_count, repost_count).
        self.x_vocabulary = "classic"
        # Remote Mastodon accounts (``user@other.host``) this instance has resolved through
        # WebFinger (a search with ``resolve=true``); until then ``accounts/lookup`` is a 404.
        self.mastodon_known_remote: set[str] = set()

    def reset(self) -> None:
        self.world.load(self.spec)
        self.grants.load(self.spec.apps)
        self.traffic.clear()
        self.mastodon_version = MASTODON_VERSION
        self.x_vocabulary = "classic"
        self.mastodon_known_remote = set()

    def mastodon_has_pkce(self) -> bool:
        major, minor = (int(p) for p in self.mastodon_version.split(".")[:2])
        return (major, minor) >= (4, 3)

    def replace_world(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.reset()
