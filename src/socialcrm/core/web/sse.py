"""Server-sent events of a state read again and again from the database: the one polling loop
behind every live progress (discovery jobs, enrichment runs, publishing, IMAP mailboxes).

A state is a JSON object; it is sent as a ``progress`` event whenever it changes, a comment
line keeps a quiet connection open, and the stream ends with a final event once the state says
the work is over (``completed``, ``failed``, ``end``...) or ``gone`` once the thing is deleted.
Each read opens its own short unit of work (off the event loop), so no transaction stays open
for the stream's lifetime.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from fastapi import Request
from fastapi.responses import StreamingResponse

INTERVAL_S: Final = 0.5
HEARTBEAT_S: Final = 15.0
HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

State = dict[str, Any]


def event(name: str, data: str) -> str:
    """One SSE event; each line of ``data`` gets its own ``data:`` field."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


async def state_events(
    read: Callable[[], State | None],
    final: Callable[[State], str | None],
    *,
    request: Request | None = None,
    interval: float = INTERVAL_S,
    heartbeat: float = HEARTBEAT_S,
) -> AsyncIterator[str]:
    """``progress`` at each change of ``read()``, then the event ``final(state)`` names (the
    stream ends there), or ``gone`` when ``read()`` finds nothing any more."""
    last_payload, last_sent = "", time.monotonic()
    while True:
        if request is not None and await request.is_disconnected():
            return
        state = await asyncio.to_thread(read)
        if state is None:
            yield event("gone", '{"status": "gone"}')
            return
        payload = json.dumps(state, separators=(",", ":"), default=str)
        if payload != last_payload:
            yield event("progress", payload)
            last_payload, last_sent = payload, time.monotonic()
        elif time.monotonic() - last_sent > heartbeat:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        name = final(state)
        if name is not None:
            yield event(name, payload)
            return
        await asyncio.sleep(interval)


def never(_state: State) -> None:
    """For a stream that follows a page as long as it is open (a list, not one job)."""
    return None


def stream_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=HEADERS)
