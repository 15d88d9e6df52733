"""Run the sandbox on a loopback port: for tests (``start_sandbox``) and the CLI (``serve``)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from socialcrm_sandbox.app import create_app

STARTUP_TIMEOUT_S = 10.0


class RunningSandbox:
    """A sandbox serving on ``url`` in a daemon thread, with its control plane at hand."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str) -> None:
        self._server = server
        self._thread = thread
        self.url = url
        self.control = httpx.Client(base_url=f"{url}/_sandbox", timeout=10.0)

    def reset(self) -> None:
        self._post("/reset")

    def load_world(self, world: dict[str, Any]) -> None:
        self._post("/world", world)

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        return self._post("/faults", fault)

    def clear_faults(self) -> None:
        self.control.delete("/faults").raise_for_status()

    def set_budget(self, **budget: Any) -> dict[str, Any]:
        return self._post("/budget", budget)

    def configure(self, **config: Any) -> dict[str, Any]:
        return self._post("/config", config)

    def stop(self) -> None:
        self.control.close()
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.control.post(path, json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def start_sandbox(
    world: dict[str, Any] | Path | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Serve a sandbox in a daemon thread (port 0: any free port); returns once it answers."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(world), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="socialcrm-sandbox", daemon=True
    )
    thread.start()
    url_host = f"[{host}]" if ":" in host else host
    running = RunningSandbox(server, thread, f"http://{url_host}:{bound_port}")
    _wait_until_healthy(running, thread)
    return running


def _wait_until_healthy(running: RunningSandbox, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server thread exited during startup")
        try:
            if running.control.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    running.stop()
    raise TimeoutError(f"the sandbox at {running.url} did not answer within {STARTUP_TIMEOUT_S}s")


def serve(host: str = "127.0.0.1", port: int = 8100, world_path: Path | None = None) -> None:
    """Run the sandbox in the foreground until interrupted (``socialcrm sandbox``)."""
    uvicorn.run(create_app(world_path), host=host, port=port, log_level="info")
