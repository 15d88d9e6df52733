"""``socialcrm serve --workers N``: N server processes sharing one port through SO_REUSEPORT.

Each process binds its own listening socket with SO_REUSEPORT, so the kernel spreads new
connections across them. (With one shared socket, as uvicorn's own ``--workers`` does, the
process that wakes first accepts every pending connection: under a burst of keep-alive clients
one process serves them all and the others idle.) The parent only supervises: it stops every
process when asked to stop or when one of them dies.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time
from types import FrameType

APP = "socialcrm.app:create_served_app"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve_one(host: str, port: int) -> None:
    """One server process: its own socket on the shared port, its own app."""
    import uvicorn

    sock = bind(host, port)
    config = uvicorn.Config(APP, factory=True, log_config=None, proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


def serve(workers: int, host: str, port: int) -> int:
    """Run ``workers`` server processes until a signal or until one of them exits."""
    bind(host, port).close()  # fail here, once, if the port is taken
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=serve_one, args=(host, port), name=f"socialcrm-server-{i}")
        for i in range(workers)
    ]
    for child in children:
        child.start()
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping and all(child.is_alive() for child in children):
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.is_alive():
                child.terminate()  # uvicorn finishes the requests in flight, then exits
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    return 0 if stopping else 1
