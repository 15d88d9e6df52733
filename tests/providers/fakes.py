"""A scripted network for adapter tests: routes → canned answers, served via MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    """``fixture("x/user")`` → the parsed JSON of ``fixtures/x/user.json``."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None  # raised instead of answering (timeouts, resets)


Handler = Callable[[httpx.Request], Answer]


class FakeNetwork:
    """Answers ``(method, path)`` with queued answers (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer] | Handler] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def on_call(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(599, json={"error": f"unrouted {request.method} {request.url}"})
        answer = route(request) if callable(route) else route.pop(0) if len(route) > 1 else route[0]
        if answer.error is not None:
            raise answer.error
        content = b"" if answer.body is None else json.dumps(answer.body).encode()
        headers = {"content-type": "application/json", **answer.headers}
        return httpx.Response(answer.status, content=content, headers=headers)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle), timeout=5.0)


def form(request: httpx.Request) -> dict[str, str]:
    """The form-encoded body of a request."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.content.decode()))


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)
