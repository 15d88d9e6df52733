"""Layer L2. Email intake (upload, API, IMAP mailboxes), signature extraction and the contact
enrichment suggestions drawn from it: ``intake.py`` takes mail in, ``suggestions.py`` is a
person's decisions, ``mailboxes.py`` and ``imap.py`` the mailboxes and their sync.

May import ``core``, L0 (``tenancy``, ``providers``) and L1 (``crm``, ``connections``,
``audit``); writes Contacts and Tickets only through ``crm``'s use cases.
"""
