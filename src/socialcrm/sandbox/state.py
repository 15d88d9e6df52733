"""Everything one running sandbox remembers, behind one lock."""

from __future__ import annotations

import threading

from socialcrm.sandbox.grants import Grants
from socialcrm.sandbox.schema import WorldSpec
from socialcrm.sandbox.times import Clock, system_clock
from socialcrm.sandbox.traffic import Traffic
from socialcrm.sandbox.world import World


class SandboxState:
    """The world, the credentials and the traffic rules; ``reset`` returns to the loaded file."""

    def __init__(self, spec: WorldSpec, clock: Clock = system_clock) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.spec = spec
        self.world = World(spec, self.lock, clock)
        self.grants = Grants(spec.apps, self.lock, clock)
        self.traffic = Traffic(self.lock)

    def reset(self) -> None:
        self.world.load(self.spec)
        self.grants.load(self.spec.apps)
        self.traffic.clear()

    def replace_world(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.reset()
