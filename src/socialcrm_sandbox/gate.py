"""The traffic gate every network endpoint passes: call log, faults, budget, rate headers.

Endpoints call ``await admit(request, network, family)`` once they know their family (for
some, such as publish vs reply, only after reading the body). The rate-limit headers chosen
here are attached to whatever answer the request ends with by ``RateHeadersMiddleware``.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcrm_sandbox.schema import Network
from socialcrm_sandbox.signals import error_body, limit_signal, rate_headers
from socialcrm_sandbox.state import SandboxState
from socialcrm_sandbox.traffic import Family, Fault, Quota

DEFAULT_RETRY_AFTER_S = 60
_STATE_KEY = "sandbox_rate_headers"
_LATE_FAULT_KEY = "sandbox_late_fault"


class NetworkError(Exception):
    """Answer the request with ``status`` and a network-shaped JSON ``body``."""

    def __init__(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def sandbox_state(request: Request) -> SandboxState:
    state = request.app.state.sandbox
    if not isinstance(state, SandboxState):  # pragma: no cover - wiring error
        raise TypeError("app.state.sandbox is not a SandboxState")
    return state


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _set_headers(request: Request, headers: dict[str, str]) -> None:
    setattr(request.state, _STATE_KEY, headers)


async def admit(request: Request, network: Network, family: Family, cost: int = 1) -> None:
    """Log the call, then apply an injected fault or the caller's budget (raising NetworkError).

    ``cost``: what the call spends from the budget (YouTube's quota units; 1 elsewhere).
    """
    state = sandbox_state(request)
    caller = request.headers.get("authorization") or "anonymous"
    state.traffic.log_call(network, family)
    fault = state.traffic.take_fault(network, family)
    if fault is not None and fault.after:  # applied first; LateFaultMiddleware acts on the answer
        setattr(request.state, _LATE_FAULT_KEY, fault)
        fault = None
    if fault is not None and fault.latency_ms > 0:
        await asyncio.sleep(fault.latency_ms / 1000)
    now = state.clock()
    if fault is not None and fault.status == 429:
        retry_after = fault.retry_after if fault.retry_after is not None else DEFAULT_RETRY_AFTER_S
        seen = state.traffic.peek(network, family, caller, now)
        quota = Quota(seen.limit, 0, now + retry_after, seen.window_s, exceeded=True)
        _set_headers(request, rate_headers(network, quota, retry_after))
        raise NetworkError(*limit_signal(network, from_budget=False))
    quota = state.traffic.charge(network, family, caller, now, cost)
    if quota.exceeded:
        retry_after = max(math.ceil(quota.reset_at - now), 1)
        _set_headers(request, rate_headers(network, quota, retry_after))
        raise NetworkError(*limit_signal(network, from_budget=True))
    _set_headers(request, rate_headers(network, quota))
    if fault is not None and fault.status != 200:
        raise NetworkError(fault.status, error_body(network, fault.status))


class RateHeadersMiddleware:
    """Adds the headers ``admit`` chose to the response, whichever way it was produced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: dict[str, str] = scope.get("state", {}).get(_STATE_KEY) or {}
                raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
                message["headers"] = [*message.get("headers", []), *raw]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LateFaultMiddleware:
    """Faults with ``after``: the handler has run (the call is applied); its answer waits
    ``latency_ms`` and then a successful one is replaced by the fault's error ``status``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_if_faulted(message: Message) -> None:
            if _late_fault(scope) is None:
                await send(message)
            else:
                held.append(message)

        await self.app(scope, receive, hold_if_faulted)
        fault = _late_fault(scope)
        if fault is None:
            return
        if fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000)
        applied = bool(held) and 200 <= int(held[0].get("status", 500)) < 300
        if fault.status == 200 or not applied:
            for message in held:
                await send(message)
            return
        body = json.dumps(error_body(fault.network, fault.status)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _late_fault(scope: Scope) -> Fault | None:
    fault = scope.get("state", {}).get(_LATE_FAULT_KEY)
    return fault if isinstance(fault, Fault) else None
