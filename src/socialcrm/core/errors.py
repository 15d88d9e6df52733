"""One error envelope for every API error: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import re
import sqlite3
import sys
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(AppError):
    status_code, code = 400, "validation_error"


class Unauthenticated(AppError):
    status_code, code = 401, "unauthenticated"


class InactiveAccount(AppError):
    status_code, code = 403, "inactive_account"


class Forbidden(AppError):
    status_code, code = 403, "forbidden"


class NotFound(AppError):
    status_code, code = 404, "not_found"


class Conflict(AppError):
    status_code, code = 409, "conflict"


class RateLimitExceeded(AppError):
    status_code, code = 429, "rate_limited"


class UpstreamUnavailable(AppError):
    status_code, code = 502, "upstream_unavailable"


class DependencyUnavailable(AppError):
    """Our own database or Redis refused, timed out or stopped answering: try again later."""

    status_code, code = 503, "upstream_unavailable"


def outage_of(exc: BaseException) -> str | None:
    """Which of our dependencies ``exc`` says cannot be reached now (``database``, ``redis``,
    ``queue``), or ``None`` for any other error. Refused, reset, timed out and silent all
    count; so does a statement the server cancelled for running past its timeout."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return "database"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        sqlite = isinstance(exc.orig, sqlite3.Error)
        return "database" if not sqlite or _SQLITE_OUTAGE.search(str(exc.orig)) else None
    redis = sys.modules.get("redis")
    if redis is not None and isinstance(
        exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
    ):
        return "redis"
    if isinstance(exc, sqlite3.OperationalError) and _SQLITE_OUTAGE.search(str(exc)):
        return "queue"  # only the embedded queue uses sqlite3 bare
    return None


# SQLite calls a syntax error or a missing table "operational" too: those are bugs, not outages.
_SQLITE_OUTAGE = re.compile(r"locked|busy|unable to open|disk i/o|disk is full|readonly", re.I)


def unavailable(exc: BaseException, dependency: str) -> DependencyUnavailable:
    from socialcrm.core.settings import get_settings

    return DependencyUnavailable(
        f"the {dependency} is unavailable; try again shortly",
        details={"dependency": dependency, "retry_after": get_settings().outage_retry_after_s},
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers = (
            {"Retry-After": str(exc.details["retry_after"])}
            if "retry_after" in exc.details
            else None
        )
        return JSONResponse(
            envelope(exc.code, exc.message, exc.details), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        return JSONResponse(
            envelope("validation_error", "the request is not valid", {"errors": problems}), 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return JSONResponse(
            envelope(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(sa_exc.DataError)
    async def _data(_request: Request, exc: sa_exc.DataError) -> JSONResponse:
        # A value the schema let through but the column cannot hold: the caller's input.
        log.warning("data_error", error_type=type(exc.orig).__name__)
        return JSONResponse(
            envelope("validation_error", "a value is too long or out of range for storage"), 400
        )

    @app.exception_handler(sa_exc.IntegrityError)
    async def _integrity(_request: Request, exc: sa_exc.IntegrityError) -> JSONResponse:
        log.warning("integrity_error", error_type=type(exc.orig).__name__)
        return JSONResponse(envelope("conflict", "the change conflicts with existing data"), 409)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return JSONResponse(envelope("internal_error", "an unexpected error occurred"), 500)

    async def _outage(request: Request, exc: Exception) -> Response:
        dependency = outage_of(exc)
        if dependency is None:  # e.g. SQLite's "operational" syntax error: a bug
            return await _unexpected(request, exc)
        log.warning("dependency_unavailable", dependency=dependency, error_type=type(exc).__name__)
        # The app's own AppError handler (JSON envelope for the API, a page for the UI).
        answer: Any = app.exception_handlers[AppError]
        response: Response = await answer(request, unavailable(exc, dependency))
        return response

    import redis

    for outage in (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.TimeoutError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        sqlite3.OperationalError,
    ):
        app.add_exception_handler(outage, _outage)
