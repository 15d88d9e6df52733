"""Layer L4. Publishing: the composer, scheduled publishing (exactly once), metrics, links and
clicks, campaign attribution, the calendar.

May import ``core`` and the layers L0 to L3 (``tenancy``, ``providers``, ``crm``,
``connections``, ``audit``, ``identity``, ``discovery``, ``signatures``, ``enrichment``,
``listening``).
"""
