"""Layer L1. Owns the CRM records (Contacts, Accounts, Leads, Tickets, Activities, campaigns,
tiers, SLAs) and their use cases (``open_ticket``, ``create_lead``, ``log_activity``, ...):
the only writers of crm tables; it declares the crm domain events (``ContactChanged``,
``AccountWebsiteChanged``, ...).

May import ``core``, ``tenancy`` and ``providers``.
"""
