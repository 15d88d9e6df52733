"""The base layer: settings, database (engine, sessions, tenant guard), crypto, errors, audit
records, the queue, outbox and domain events, the SSRF-safe HTTP client, logging, leases,
numbers and days; ``core/web`` holds the HTTP edge's shared parts (auth dependency, CSRF,
rendering, forms, notices, SSE, charts).

Imports nothing else from socialcrm (third-party libraries only); every other package may
import it.
"""
