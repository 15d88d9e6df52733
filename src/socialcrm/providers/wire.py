"""One place that performs a provider HTTP call and maps the generic failures.

Transport errors, timeouts and 5xx become ``TransientProviderError``, 429 ``RateLimited``
(from the network's own headers), 401 the network's unauthorised outcome; every answer's
rate-limit headers are recorded on the ``CallContext``. What a 200, 400 or 404 *means* is left
to each adapter. Also holds the small typed readers for JSON payloads and the ``time|id``
mention cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from socialcrm.providers.base import (
    CallContext,
    ReconnectRequired,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected
from socialcrm.providers.ratelimit import RateHeaders, rate_limited, read_budget

JsonObject = dict[str, Any]
QueryParams = Mapping[str, str | int | list[str]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Wire:
    """How one network signals limits and dead grants."""

    network: str
    rate_headers: RateHeaders
    unauthorized: type[ReconnectRequired] = ReconnectRequired
    # When a 429 names no reset: the network's own window end (LinkedIn: next UTC midnight).
    window_end: Callable[[datetime], datetime] | None = None


async def send(
    http: httpx.AsyncClient,
    wire: Wire,
    method: str,
    url: str,
    *,
    token: str | None = None,
    ctx: CallContext | None = None,
    params: QueryParams | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Perform one call; return the response unless it is a generic failure."""
    request_headers = {"Accept": "application/json", **(headers or {})}
    if token is not None:
        request_headers["Authorization"] = f"Bearer {token}"
    try:
        response = await http.request(
            method, url, params=params, json=json, data=data, headers=request_headers
        )
    except httpx.TimeoutException as exc:
        raise TransientProviderError(f"{wire.network}: timeout on {method} {url}") from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(f"{wire.network}: {type(exc).__name__} on {url}") from exc
    check_status(response, wire, ctx)
    return response


def check_status(response: httpx.Response, wire: Wire, ctx: CallContext | None = None) -> None:
    """Record the budget; raise for 429, 401 and 5xx."""
    budget = read_budget(response.headers, wire.rate_headers)
    if ctx is not None and budget is not None:
        ctx.budget = budget
    status = response.status_code
    if status == 429:
        now = utc_now()
        if wire.window_end is None:
            raise rate_limited(response.headers, wire.rate_headers, now)
        backoff = max(wire.window_end(now) - now, timedelta(seconds=1))
        raise rate_limited(response.headers, wire.rate_headers, now, backoff)
    if status == 401:
        raise wire.unauthorized(f"{wire.network}: unauthorised ({error_summary(response)})")
    if status >= 500:
        raise TransientProviderError(f"{wire.network}: HTTP {status} from {response.url.path}")


def error_summary(response: httpx.Response) -> str:
    """A short, token-free description of an error answer for messages and logs."""
    body = error_body(response)
    for key in ("error_description", "message", "detail", "error", "title"):
        if isinstance(body.get(key), str):
            return f"HTTP {response.status_code} {body[key]}"
    return f"HTTP {response.status_code}"


def error_body(response: httpx.Response) -> JsonObject:
    """An error answer's JSON object, or ``{}`` when it has none (HTML, empty, an array)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def rejected(response: httpx.Response, wire: Wire) -> RequestRejected:
    return RequestRejected(
        response.status_code, f"{wire.network}: request refused ({error_summary(response)})"
    )


def json_body(response: httpx.Response, wire: Wire) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TransientProviderError(
            f"{wire.network}: answer is not JSON (HTTP {response.status_code})"
        ) from exc


def json_object(response: httpx.Response, wire: Wire) -> JsonObject:
    body = json_body(response, wire)
    if not isinstance(body, dict):
        raise TransientProviderError(f"{wire.network}: expected a JSON object")
    return body


def json_list(response: httpx.Response, wire: Wire) -> list[JsonObject]:
    body = json_body(response, wire)
    if not isinstance(body, list):
        raise TransientProviderError(f"{wire.network}: expected a JSON array")
    return [item for item in body if isinstance(item, dict)]


# --- typed readers for payload fields ---------------------------------------------------------


def field_obj(data: Mapping[str, Any], key: str) -> JsonObject:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def field_list(data: Mapping[str, Any], key: str) -> list[JsonObject]:
    value = data.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def field_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def field_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def field_time(data: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(field_str(data, key))


def parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- mention cursors: the newest item seen, as ``time|id`` ------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the time of an item that carries none


def format_mention_cursor(key: tuple[datetime, str]) -> str:
    return f"{key[0].isoformat()}|{key[1]}"


def parse_mention_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    stamp, _, item_id = cursor.partition("|")
    moment = parse_time(stamp)
    return (moment, item_id) if moment else None
