"""Each network's own rate-limit headers and standard error bodies."""

from __future__ import annotations

import math
from typing import Any

from socialcrm.sandbox.schema import Network
from socialcrm.sandbox.times import from_epoch, iso_z
from socialcrm.sandbox.traffic import Quota

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_XRPC_ERRORS = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("InvalidRequest", "Profile not found"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}

_MASTODON_ERRORS = {
    401: "The access token is invalid",
    403: "This action is not allowed",
    404: "Record not found",
    429: "Too many requests",
    500: "We're sorry, but something went wrong on our end.",
    503: "Service Unavailable",
}

X_NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "Error")


def rate_headers(network: Network, quota: Quota, retry_after: int | None = None) -> dict[str, str]:
    """The rate-limit headers a network puts on every answer (and ``Retry-After`` on a 429)."""
    reset = math.ceil(quota.reset_at)
    headers: dict[str, str]
    if network == "x":
        headers = {
            "x-rate-limit-limit": str(quota.limit),
            "x-rate-limit-remaining": str(quota.remaining),
            "x-rate-limit-reset": str(reset),
        }
    elif network == "mastodon":
        headers = {
            "X-RateLimit-Limit": str(quota.limit),
            "X-RateLimit-Remaining": str(quota.remaining),
            "X-RateLimit-Reset": iso_z(from_epoch(quota.reset_at)),
        }
    else:
        headers = {
            "RateLimit-Limit": str(quota.limit),
            "RateLimit-Remaining": str(quota.remaining),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{quota.limit};w={quota.window_s}",
        }
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers


def x_problem(status: int, detail: str | None = None, title: str | None = None) -> dict[str, Any]:
    """X v2's problem body (``about:blank`` type) for non-lookup errors."""
    phrase = reason_phrase(status)
    if status == 404:
        return {
            "title": "Not Found Error",
            "type": X_NOT_FOUND_TYPE,
            "status": 404,
            "detail": detail or "Could not find the requested resource.",
        }
    return {
        "title": title or phrase,
        "type": "about:blank",
        "status": status,
        "detail": detail or phrase,
    }


def xrpc_error(status: int, name: str | None = None, message: str | None = None) -> dict[str, Any]:
    default_name, default_message = _XRPC_ERRORS.get(status, ("InternalServerError", "Error"))
    return {"error": name or default_name, "message": message or default_message}


def mastodon_error(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": message or _MASTODON_ERRORS.get(status, reason_phrase(status))}


def error_body(network: Network, status: int) -> dict[str, Any]:
    """The network's body for an injected fault or a generic failure with ``status``."""
    if network == "x":
        return x_problem(status)
    if network == "mastodon":
        return mastodon_error(status)
    return xrpc_error(status)
