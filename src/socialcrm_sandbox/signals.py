"""Each network's own rate-limit headers and standard error bodies."""

from __future__ import annotations

import json
import math
import secrets
from typing import Any

from socialcrm_sandbox.schema import Network
from socialcrm_sandbox.times import from_epoch, iso_z
from socialcrm_sandbox.traffic import Quota

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
    if network in ("linkedin", "youtube", "tiktok"):
        return {}  # they announce no budget: LinkedIn's 429 is bare, the others use bodies
    if network in ("facebook", "instagram"):
        return meta_usage_headers(network, quota, retry_after)
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
    if network == "linkedin":
        return linkedin_error(status)
    if network in ("facebook", "instagram"):
        return graph_error(_GRAPH_STATUS_CODES.get(status, 1), reason_phrase(status))
    if network == "youtube":
        return google_error(status, _GOOGLE_REASONS.get(status, "backendError"))
    if network == "tiktok":
        return tiktok_error(_TIKTOK_CODES.get(status, "internal_error"), reason_phrase(status))
    return xrpc_error(status)


# --- the newer networks' error shapes and limit signals ------------------------------------------

LINKEDIN_THROTTLE_MESSAGE = (
    "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
)
YOUTUBE_QUOTA_MESSAGE = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)
META_THROTTLES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80002: "There have been too many calls to this Instagram account. Wait a bit and try again.",
}
# A budget runs out per Page (Facebook) or per Instagram account (business use case).
META_BUDGET_CODES: dict[Network, int] = {"facebook": 32, "instagram": 80002}
META_BUSINESS_ID = "0"  # the sandbox's one business in X-Business-Use-Case-Usage
_GRAPH_STATUS_CODES = {400: 100, 401: 190, 403: 10, 404: 803, 500: 1, 503: 2}
_GOOGLE_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    500: "backendError",
    503: "backendError",
}
_TIKTOK_CODES = {
    400: "invalid_params",
    401: "access_token_invalid",
    403: "scope_not_authorized",
    404: "not_found",
    429: "rate_limit_exceeded",
    500: "internal_error",
}


def linkedin_error(
    status: int, message: str | None = None, code: str | None = None
) -> dict[str, Any]:
    if status == 429:
        return {"message": message or LINKEDIN_THROTTLE_MESSAGE, "status": 429}
    body: dict[str, Any] = {"status": status, "message": message or reason_phrase(status)}
    if status == 401:
        body |= {"serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN"}
        body["message"] = message or "Invalid access token"
    elif code or status == 404:
        body["code"] = code or "NOT_FOUND"
    return body


def graph_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException" if code in (4, 17, 32, 190, 613, 803) else "GraphMethodException",
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(12),
    }
    if code in META_THROTTLES:
        error["is_transient"] = True
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def google_error(status: int, reason: str, message: str | None = None) -> dict[str, Any]:
    text = message or (
        YOUTUBE_QUOTA_MESSAGE if reason == "quotaExceeded" else reason_phrase(status)
    )
    domain = "youtube.quota" if reason == "quotaExceeded" else "global"
    return {
        "error": {
            "code": status,
            "message": text,
            "errors": [{"message": text, "domain": domain, "reason": reason}],
        }
    }


def tiktok_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "log_id": secrets.token_hex(16)}}


def meta_usage_headers(
    network: Network, quota: Quota, retry_after: int | None = None
) -> dict[str, str]:
    """Usage as percentages of the budget; the business header also says when access returns."""
    used = (
        100
        if quota.exceeded
        else round(100 * (quota.limit - quota.remaining) / max(quota.limit, 1))
    )
    usage = {"call_count": used, "total_cputime": min(used, 25), "total_time": min(used, 25)}
    minutes = math.ceil(retry_after / 60) if retry_after else 0
    business = {
        META_BUSINESS_ID: [
            {
                "type": "pages" if network == "facebook" else "instagram",
                **usage,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return {
        "X-App-Usage": json.dumps(usage, separators=(",", ":")),
        "X-Business-Use-Case-Usage": json.dumps(business, separators=(",", ":")),
    }


def limit_signal(network: Network, *, from_budget: bool) -> tuple[int, dict[str, Any]]:
    """The status and body with which a network refuses a call over its limit."""
    if network == "youtube":
        # The day's quota units spent: 403 quotaExceeded until Pacific midnight. Too many
        # calls in a short span (an injected 429): 429 rateLimitExceeded, retry soon.
        if from_budget:
            return 403, google_error(403, "quotaExceeded")
        return 429, google_error(429, "rateLimitExceeded")
    if network in ("facebook", "instagram"):
        code = META_BUDGET_CODES[network] if from_budget else 4
        return 400, graph_error(code, META_THROTTLES[code])
    if network == "tiktok":
        message = "The API rate limit was exceeded. Please try again later."
        return 429, tiktok_error("rate_limit_exceeded", message)
    return 429, error_body(network, 429)
