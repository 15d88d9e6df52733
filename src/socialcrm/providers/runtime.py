"""The provider runtime: one long-lived event loop thread per process, and pooled HTTP clients.

Synchronous code (request threads, queue workers, the CLI) hands a coroutine to :func:`run`,
which submits it to the loop and waits for its answer with a timeout. Coroutines running there
borrow a long-lived ``httpx.AsyncClient`` from :func:`client`, one per key (a provider, the
SSRF-safe client of user-named hosts, the webhook sender), so connections and TLS sessions are
reused across calls instead of paid for on each one.

- Lazily started per process: a forked child (Huey worker processes, ``uvicorn --workers``)
  never uses its parent's loop or sockets; it starts its own on its first call.
- Shut down at exit: the clients are closed on the loop, then the loop stops.
- A coroutine that is already running on the loop and calls :func:`run` again (synchronous
  code reached from inside an adapter action, such as the queue's immediate mode) would wait
  for itself: that call runs in a helper thread with a loop of its own, and :func:`client`
  gives it short-lived clients there, since a pooled client belongs to the runtime's loop.
- The submitting thread is known to the coroutine (:func:`caller_thread`), so the tests'
  unit-of-work guard can tell whose open transaction a network call happens in.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeAlias, TypeVar

import httpx

T = TypeVar("T")

_CALLER: contextvars.ContextVar[int | None] = contextvars.ContextVar("caller", default=None)
_SHUTDOWN_S = 5.0

PooledClient: TypeAlias = AbstractAsyncContextManager[httpx.AsyncClient]


class _Runtime:
    """The loop, its thread and its clients, owned by one process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.clients: dict[Hashable, httpx.AsyncClient] = {}
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._serve, args=(started,), name="socialcrm-providers", daemon=True
        )
        self.thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        self.loop.run_forever()

    async def _close_clients(self) -> None:
        clients, self.clients = list(self.clients.values()), {}
        for http in clients:
            await http.aclose()

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        closing = asyncio.run_coroutine_threadsafe(self._close_clients(), self.loop)
        try:
            closing.result(_SHUTDOWN_S)
        except Exception:
            closing.cancel()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(_SHUTDOWN_S)
        if not self.thread.is_alive():
            self.loop.close()


_lock = threading.Lock()
_runtime: _Runtime | None = None


def _current() -> _Runtime:
    global _runtime
    runtime = _runtime
    if runtime is not None and runtime.pid == os.getpid() and runtime.thread.is_alive():
        return runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid() or not _runtime.thread.is_alive():
            _runtime = _Runtime()  # a parent's runtime, inherited by fork, is left alone
        return _runtime


def _forget_after_fork() -> None:
    global _runtime, _lock
    _runtime, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def shutdown() -> None:
    """Close the pooled clients and stop the loop (at exit; tests may call it too)."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None and runtime.pid == os.getpid():
        runtime.stop()


atexit.register(shutdown)


async def _as_caller(coroutine: Coroutine[Any, Any, T], caller: int) -> T:
    _CALLER.set(caller)
    return await coroutine


def run(coroutine: Coroutine[Any, Any, T], *, timeout: float | None) -> T:
    """Run ``coroutine`` on the provider loop and wait (``timeout`` seconds, None: no limit)
    for its answer; on timeout it is cancelled and ``TimeoutError`` raised."""
    caller = threading.get_ident()
    runtime = _current()
    if caller == runtime.thread.ident:  # synchronous code called from a coroutine on the loop
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="socialcrm-nested") as pool:
            return pool.submit(asyncio.run, _as_caller(coroutine, caller)).result(timeout)
    future = asyncio.run_coroutine_threadsafe(_as_caller(coroutine, caller), runtime.loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def caller_thread() -> int | None:
    """The thread that submitted the running coroutine through :func:`run`, if any."""
    return _CALLER.get()


@asynccontextmanager
async def client(
    key: Hashable, factory: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[httpx.AsyncClient]:
    """The pooled client for ``key`` (built by ``factory`` on first use), kept open after the
    block; outside the runtime's loop, a client of the block's own, closed after it."""
    runtime = _runtime
    loop = asyncio.get_running_loop()
    if runtime is None or runtime.loop is not loop or runtime.pid != os.getpid():
        async with factory() as http:
            yield http
        return
    pooled = runtime.clients.get(key)
    if pooled is None or pooled.is_closed:
        pooled = runtime.clients[key] = factory()
    yield pooled
