"""Why one page (and so one site) could not be read: a short reason code and a detail."""

from __future__ import annotations

from typing import Final

# Failures that say nothing about the site's content: the answer may differ on another try.
_PASSING: Final = frozenset(
    {
        "timeout",
        "connect_error",
        "dns",
        "tls_error",
        "protocol_error",
        "robots_unavailable",
        "error",
    }
)


class FetchFailed(Exception):
    """One page could not be fetched; ``reason`` is a short code, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_passing(reason: str) -> bool:
    """True for a failure that another try may not repeat (timeouts, connections, 429, 5xx)."""
    return reason in _PASSING or reason == "http_429" or reason.startswith("http_5")
