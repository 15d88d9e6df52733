"""The top (composition) layer's HTTP edge: middleware, API docs, processes and notifications
pages. The app itself is built by ``app.py``; shared HTTP helpers every domain uses live in
``core/web``.

May import any package; no domain imports it.
"""
