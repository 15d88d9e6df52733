"""Typed outcomes that refine the ones in ``base.py`` (subclasses, so old callers still work)."""

from __future__ import annotations

from socialcrm.providers.base import NotSupported, ProviderError, ReconnectRequired


class TokenExpired(ReconnectRequired):
    """The access token expired: refresh it and retry once; if refreshing fails, reconnect.

    A subclass of ``ReconnectRequired`` so a caller that cannot refresh is still correct.
    """


class ScopeMissing(NotSupported):
    """The grant lacks a scope this call needs (e.g. Mastodon ``admin:read:accounts``)."""

    def __init__(self, scope: str, message: str) -> None:
        super().__init__(message)
        self.scope = scope


class RequestRejected(ProviderError):
    """The network refused this request for a reason retrying will not fix (a 4xx that is
    none of the other outcomes: 403 on a DM, 400 on a too-long post, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class VersionRetired(RequestRejected):
    """The network no longer serves the API version we named (LinkedIn's 426
    ``NONEXISTENT_VERSION``): only an operator can fix it, by moving ``setting`` to a version
    the network serves. Never a reason to mark an account dead."""

    def __init__(self, version: str, setting: str, message: str) -> None:
        super().__init__(426, message)
        self.version = version
        self.setting = setting


class ReplyNotAllowed(RequestRejected):
    """The network refuses this reply by its own rule, not for anything in it: X's self-serve
    API tiers may reply only where the post's author mentioned or quoted the account."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)
