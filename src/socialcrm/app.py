"""The composition root: builds the app (API, UI, error envelope, health), mounts every domain's
routers, and wires the domains together. Nothing imports it but the entry points."""

from __future__ import annotations

import gc
import hashlib
import os
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from socialcrm import __version__
from socialcrm.audit.routes import router as audit_router
from socialcrm.audit.ui import router as audit_ui_router
from socialcrm.connections.admin_ui import router as connections_admin_router
from socialcrm.connections.routes import router as connections_router
from socialcrm.connections.ui import router as connections_ui_router
from socialcrm.core.errors import AppError, envelope, install_error_handlers
from socialcrm.core.health import dependencies
from socialcrm.core.settings import get_settings
from socialcrm.core.web.context import LoginRequired, install_authenticator
from socialcrm.core.web.render import STATIC_DIR, render
from socialcrm.crm.admin_ui import router as crm_admin_router
from socialcrm.crm.routes import router as crm_router
from socialcrm.crm.support_routes import router as support_router
from socialcrm.crm.ui import router as crm_ui_router
from socialcrm.discovery.account_routes import router as discovery_accounts_router
from socialcrm.discovery.admin_ui import router as discovery_admin_router
from socialcrm.discovery.jobs_ui import router as discovery_jobs_ui_router
from socialcrm.discovery.routes import router as discovery_router
from socialcrm.discovery.ui import router as discovery_ui_router
from socialcrm.engage.routes import router as engage_router
from socialcrm.engage.ui import router as engage_ui_router
from socialcrm.enrichment.admin_ui import router as enrichment_admin_router
from socialcrm.enrichment.routes import router as enrichment_router
from socialcrm.enrichment.ui import router as enrichment_ui_router
from socialcrm.identity.admin_ui import router as identity_admin_router
from socialcrm.identity.merge_ui import router as identity_merge_ui_router
from socialcrm.identity.routes import router as identity_router
from socialcrm.identity.ui import router as identity_ui_router
from socialcrm.listening.admin_ui import router as listening_admin_router
from socialcrm.listening.routes import hooks_router as listening_hooks_router
from socialcrm.listening.routes import router as listening_router
from socialcrm.listening.ui import router as listening_ui_router
from socialcrm.publishing.admin_ui import router as publishing_admin_router
from socialcrm.publishing.routes import redirects as publishing_redirects
from socialcrm.publishing.routes import router as publishing_router
from socialcrm.publishing.ui import router as publishing_ui_router
from socialcrm.signatures.admin_ui import router as signatures_admin_router
from socialcrm.signatures.routes import router as signatures_router
from socialcrm.signatures.ui import router as signatures_ui_router
from socialcrm.tenancy.auth import TenancyAuthenticator
from socialcrm.tenancy.routes import router as tenancy_router
from socialcrm.tenancy.ui import router as tenancy_ui_router
from socialcrm.web import notifications
from socialcrm.web.apidocs import install_api_docs
from socialcrm.web.headers import SecurityHeaders
from socialcrm.web.limits import install_request_limits
from socialcrm.wiring import wire


def session_secret() -> str:
    """The UI cookie key, derived from the first secret key (rotates with it)."""
    first = get_settings().secret_keys[0]
    return hashlib.sha256(b"socialcrm-session:" + first.encode()).hexdigest()


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(get_settings().outage_retry_after_s)}


def create_app() -> FastAPI:
    wire()
    app = FastAPI(
        title="socialcrm",
        version=__version__,
        description="The social layer of a CRM: contacts, social accounts and the networks.",
        docs_url=None,  # served from local files by install_api_docs
        redoc_url=None,
    )
    # Who is calling: tenancy answers for the web kit's dependencies and the request limits.
    install_authenticator(app, TenancyAuthenticator())
    install_api_docs(app)
    install_error_handlers(app)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: Exception) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            headers = (
                {"Retry-After": str(exc.details["retry_after"])}
                if "retry_after" in exc.details
                else None
            )
            return JSONResponse(
                envelope(exc.code, exc.message, exc.details), exc.status_code, headers=headers
            )
        return render(
            request,
            None,
            "error.html",
            status=exc.status_code,
            title="Something is not right",
            message=exc.message,
        )

    https = get_settings().base_url.startswith("https://")
    # The cookie is signed and carries the CSRF token and the login session's token; the
    # session itself (user, expiry, logout) lives in the database (tenancy/sessions.py).
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(),
        session_cookie="socialcrm_session",
        same_site="lax",
        https_only=https,
        max_age=int(get_settings().session_max_age_s),
    )

    @app.get("/health", tags=["ops"])
    def health() -> JSONResponse:
        """200 when every dependency answers, else 503 naming the one that does not."""
        up, checks = dependencies()
        body: dict[str, Any] = {"status": "ok" if up else "unavailable"}
        body |= {"version": __version__, "process": os.getpid(), "checks": checks}
        return JSONResponse(body, 200 if up else 503, headers=None if up else _retry_after())

    # Routers are matched in this order, route by route: the hottest path comes first.
    app.include_router(identity_router)
    app.include_router(crm_router)
    app.include_router(crm_ui_router, include_in_schema=False)  # before /accounts/{id} & co.
    app.include_router(support_router)
    app.include_router(connections_router)
    app.include_router(discovery_router)
    app.include_router(discovery_accounts_router)
    app.include_router(discovery_ui_router, include_in_schema=False)
    app.include_router(discovery_jobs_ui_router, include_in_schema=False)
    app.include_router(enrichment_router)
    app.include_router(enrichment_ui_router, include_in_schema=False)
    app.include_router(identity_ui_router, include_in_schema=False)
    app.include_router(identity_merge_ui_router, include_in_schema=False)
    app.include_router(listening_router)
    app.include_router(listening_hooks_router)
    app.include_router(listening_ui_router, include_in_schema=False)
    app.include_router(publishing_router)
    app.include_router(engage_router)
    app.include_router(engage_ui_router, include_in_schema=False)
    app.include_router(publishing_ui_router, include_in_schema=False)
    app.include_router(publishing_redirects)
    app.include_router(signatures_router)
    app.include_router(signatures_ui_router, include_in_schema=False)
    app.include_router(audit_router)
    app.include_router(tenancy_router)
    # The Admin area: each domain's settings page lives with the domain (``*/admin_ui.py``).
    for admin_router in (
        tenancy_ui_router,
        enrichment_admin_router,
        identity_admin_router,
        listening_admin_router,
        publishing_admin_router,
        crm_admin_router,
        signatures_admin_router,
        discovery_admin_router,
        connections_admin_router,
        audit_ui_router,
    ):
        app.include_router(admin_router, include_in_schema=False)
    app.include_router(notifications.router, include_in_schema=False)
    app.include_router(connections_ui_router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_request_limits(app)
    # outermost: every answer carries the headers, the limits' early refusals too
    app.add_middleware(SecurityHeaders, https=https)
    return app


def warm_database_pool(connections: int = 16) -> None:
    """PostgreSQL: open the pool's connections and plan a statement on every table in each,
    before serving. A new backend loads its catalog caches (each table and index it touches)
    on first use: left to the first requests, a process's first second at 500 resolves/s
    queued to a p50 of 186-340 ms (bench/identity.py), warmed 5.5 ms. A database that cannot
    be reached now is not an error here: the requests will say so (503)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    import socialcrm.all_models  # noqa: F401  (every table on Base.metadata)
    from socialcrm.core.db import POOL_SIZE, Base, get_database

    engine = get_database().engine
    if engine.dialect.name == "sqlite":
        return
    opened = []
    try:
        for _ in range(min(connections, POOL_SIZE)):
            opened.append(connection := engine.connect())
            for table in Base.metadata.sorted_tables:
                connection.execute(select(table).limit(0))
            connection.rollback()
    except SQLAlchemyError as exc:
        structlog.get_logger(__name__).warning("database_not_warmed", error=type(exc).__name__)
    finally:
        for connection in opened:
            connection.close()


def freeze_start_up_heap() -> None:
    """Hide what start-up built from the garbage collector, once, just before serving.

    The app, its routes and schemas, the mappers and every imported module are some 280,000
    objects that live as long as the process. Each full collection walked all of them: 100-135
    ms with every request in flight stopped, every two seconds or so under load: most of
    the API's p99 (bench/api.py). Frozen, a full collection walks only what was made since
    (6-11 ms). Frozen objects are still freed by reference counting, but a cycle among them
    never is: not for tests, which build and drop many apps."""
    gc.collect()
    gc.freeze()


def create_served_app() -> FastAPI:
    """The app of one process of ``socialcrm serve --workers N`` (it starts with no logging)."""
    from socialcrm.core.logging import configure_logging

    configure_logging(get_settings().log_format, level=get_settings().log_level)
    return ready_to_serve(create_app())


def ready_to_serve(app: FastAPI) -> FastAPI:
    """What a serving process does once its app is built, before its first request (one
    process or each of ``--workers N``): warm the database pool, freeze the start-up heap."""
    warm_database_pool()
    freeze_start_up_heap()
    return app
