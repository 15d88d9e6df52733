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


_WORDS: Final = {
    "timeout": "the site took too long to answer",
    "connect_error": "the site could not be reached",
    "dns": "the domain name does not exist",
    "tls_error": "the site's HTTPS certificate is not valid",
    "protocol_error": "the site answered in a way that is not HTTP",
    "refused": "a private or reserved address (refused)",
    "invalid_url": "the address is not a web address",
    "not_html": "the address is not a web page",
    "bad_redirect": "the site redirects somewhere unusable",
    "too_many_redirects": "the site redirects too many times",
    "robots_disallowed": "the site's robots.txt forbids reading it",
    "robots_unavailable": "the site's robots.txt could not be read",
    "unsupported_encoding": "the page's compression is not supported",
    "bad_encoding": "the page's compression is broken",
    "decompression_bomb": "the page grows too large once decompressed",
    "worker_lost": "the worker reading this site stopped too many times",
    "http_404": "page not found (HTTP 404)",
    "http_410": "the site is gone (HTTP 410)",
    "http_403": "the site refuses to be read (HTTP 403)",
    "http_429": "the site asks to slow down (HTTP 429)",
}


def describe(reason: str) -> str:
    """A failure reason in plain words, for people (the code stays in the API and files)."""
    if reason in _WORDS:
        return _WORDS[reason]
    if reason.startswith("http_5"):
        return f"the site has a server error (HTTP {reason.removeprefix('http_')})"
    if reason.startswith("http_"):
        return f"the site answered HTTP {reason.removeprefix('http_')}"
    return reason.replace("_", " ")


def summary(by_reason: dict[str, int]) -> list[tuple[str, str, int]]:
    """Failures by reason for a page: (code, plain words, count), the most frequent first."""
    ordered = sorted(by_reason.items(), key=lambda pair: (-pair[1], pair[0]))
    return [(code, describe(code), count) for code, count in ordered]
