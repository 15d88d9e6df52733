"""Layer L3. Enrich Contacts with public social profiles: candidates, matching and confidence,
links and suggestions, snapshots, retention, runs.

May import ``core``, L0 (``tenancy``, ``providers``), L1 (``crm``, ``connections``,
``audit``) and L2 (``identity``, ``discovery``, ``signatures``).
"""
