"""Layer L0. The network adapters: the Provider protocol and the registry (a list of adapter
classes), one adapter per network with its own rules (text limits, id shapes, aliases,
instances), OAuth, handle parsing, typed outcomes and rate-limit signals.

May import ``core`` only.
"""
