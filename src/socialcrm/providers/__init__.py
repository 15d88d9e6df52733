"""Layer L0. The network adapters: the Provider protocol and the registry (a list of adapter
classes), one adapter per network with its own rules (text limits, id shapes, aliases,
instances), OAuth, handle parsing, typed outcomes and rate-limit signals, the runtime (one
event-loop thread per process, a pooled HTTP client per provider) and ``@provider_task``.

May import ``core`` only.
"""
