"""Layer L0. Owns tenants, users, roles, API keys, log-in sessions and each tenant's policy
record, and authenticates callers (handed to ``core/web`` by the composition root).

May import ``core`` only.
"""
