"""Network adapters (layer L0): one adapter class per social network, carrying the network's
rules (text limits, id shapes, aliases, instances, where the sandbox plays it); the registry,
a list of those classes; typed provider outcomes; the runtime (one event-loop thread per
process, pooled HTTP clients). May import only ``core``."""
