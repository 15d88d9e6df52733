"""Layer L3. Social listening: rules, mention ingestion, sentiment and language, routing into
social Leads and Tickets (through ``crm``'s use cases), live notifications.

May import ``core``, L0 (``tenancy``, ``providers``), L1 (``crm``, ``connections``,
``audit``) and L2 (``identity``, ``discovery``, ``signatures``).
"""
