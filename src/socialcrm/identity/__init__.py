"""Layer L2. Identity resolution: social handles and platform user ids to known customers
(normalising, homoglyphs, bot filter, cache), the identity graph, the review queue, merging.

May import ``core``, L0 (``tenancy``, ``providers``) and L1 (``crm``, ``connections``,
``audit``); writes Contacts only through ``crm``'s use cases.
"""
