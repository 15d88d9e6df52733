"""Layer L1. Reading the audit log: filtered, cursor-paged, exported as CSV (rows are written by
every domain through ``core.audit.record``).

May import ``core``, ``tenancy`` and ``providers``.
"""
