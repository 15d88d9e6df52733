"""The local social-network sandbox: one simulated world served on each network's own API
shapes, OAuth and rate-limit signals (X, Mastodon, Bluesky, LinkedIn, Facebook Pages,
Instagram, YouTube, TikTok), plus its ``/_sandbox`` control plane. Its own package beside the
product, shipped in the same distribution for the demo and the tests.

Imports nothing from ``socialcrm``.
"""
