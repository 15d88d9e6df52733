"""Layer L2. Bulk jobs that find social profile URLs on organisations' websites: the crawler,
the extractor and canonical profile URLs, jobs and their chunks (``jobs.py`` a person's side,
``runner.py`` the worker's side), results and exports, profile suggestions for Accounts.

May import ``core``, L0 (``tenancy``, ``providers``) and L1 (``crm``, ``connections``,
``audit``).
"""
