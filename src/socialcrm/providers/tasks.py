"""``@provider_task``: a queue task that calls a network, with the networks' typed outcomes
mapped once for every such task.

- ``RateLimited``: not a failure; the task is scheduled again at the time the network named
  (a queue ETA, never a sleeping worker) and returns ``default``;
- ``ReconnectRequired`` (the account waits for a person to reconnect it), ``ProfileGone``,
  ``NotFound`` and the task's own ``gone`` exceptions (the account was disconnected, the row
  deleted): nothing to do, logged, returns ``default``;
- anything else (``TransientProviderError`` first) is raised: the queue retries the task.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from huey.api import TaskWrapper

from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.providers.base import ProfileGone, RateLimited, ReconnectRequired

log = structlog.get_logger(__name__)

R = TypeVar("R")


def provider_task(
    *, default: Any = None, gone: tuple[type[Exception], ...] = (), **settings: Any
) -> Callable[[Callable[..., R]], TaskWrapper]:
    """``huey.task(**settings)`` over ``fn``, with the outcomes above. The task keeps its
    queue name (``module.function``): jobs already waiting in the outbox still run."""
    nothing_to_do: tuple[type[Exception], ...] = (ReconnectRequired, ProfileGone, NotFound, *gone)

    def decorate(fn: Callable[..., R]) -> TaskWrapper:
        @functools.wraps(fn)
        def run(*args: Any) -> Any:
            try:
                return fn(*args)
            except RateLimited as exc:
                task.schedule(args, eta=exc.retry_at)
                log.info("provider_task_rescheduled", task=fn.__name__, eta=exc.retry_at)
                return default
            except nothing_to_do as exc:
                log.info("provider_task_skipped", task=fn.__name__, reason=type(exc).__name__)
                return default

        task: TaskWrapper = huey.task(**settings)(run)
        return task

    return decorate
