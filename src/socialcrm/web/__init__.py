"""The HTTP edge of the app, above every domain: security headers, request limits (which
authenticate through the installed authenticator before reading a body), the API docs, the
server processes of ``socialcrm serve --workers N``, and the notifications page. The
composition root (``socialcrm.app``) installs them.

May import any package; no domain imports it.
"""
