"""Layer L1. Owns a tenant's connected social accounts: OAuth connect, token storage and
refresh, disconnect and revoke, and the gateway through which other domains call a network
as a connected account.

May import ``core``, ``tenancy`` and ``providers``.
"""
