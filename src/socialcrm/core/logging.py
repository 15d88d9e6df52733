"""structlog for the whole process: JSON in production, readable in a terminal, secrets redacted.

Standard-library loggers (uvicorn, httpx, SQLAlchemy, Huey) are routed through the same
processors, so redaction applies to every line the process writes, not only to ours.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED: Final = "[REDACTED]"

# Keys whose value is a secret whatever it looks like; compared case-insensitively, with "-"
# read as "_" so that HTTP header names ("X-Api-Key", "Authorization") match too.
SECRET_KEYS: Final = frozenset(
    {
        "code",
        "state",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "password",
        "api_key",
        "x_api_key",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
    }
)

_QUERY_SECRETS: Final = (
    "code|state|token|access_token|refresh_token|id_token|client_secret|code_verifier"
    r"|password|api_key|fb_exchange_token|crc_token|hub\.verify_token"
)


@dataclass(frozen=True, slots=True)
class _Secret:
    """A pattern of secrets in free text, its replacement, and the literals one of which
    every match contains (lower-case, and looked for in the lower-cased text, when the
    pattern ignores case): text holding none of them cannot match, so the regex is skipped.
    Most log lines hold none, and the regexes are most of the cost of a line."""

    pattern: re.Pattern[str]
    replacement: str
    needs: tuple[str, ...]

    ignores_case: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignores_case", bool(self.pattern.flags & re.IGNORECASE))

    def may_match(self, text: str, lowered: str) -> bool:
        """``lowered`` is ``text.lower()``, computed once for every pattern."""
        haystack = lowered if self.ignores_case else text
        return any(literal in haystack for literal in self.needs)


# Order matters: the OAuth callback's whole query goes first, then the narrower patterns.
# The case-insensitive literals are letters whose every case-insensitive match lower-cases to
# the letter itself (not so for "i": the dotless i, U+0131), so "author", never "authorization".
_STRING_SECRETS: Final[tuple[_Secret, ...]] = (
    # Our OAuth callback: the query carries the authorization code and state; drop all of it.
    _Secret(
        re.compile(r"(/oauth/callback[^\s?#\"']*\?)[^\s#\"']*"),
        rf"\1{REDACTED}",
        ("/oauth/callback",),
    ),
    # Inbound webhook URLs: the path's token is what lets a network (or anyone) post events.
    _Secret(
        re.compile(r"(/hooks/listening/)[^\s/?#\"']+"),
        rf"\1{REDACTED}",
        ("/hooks/listening/",),
    ),
    # Bearer tokens anywhere; any scheme's credentials after an Authorization header name.
    _Secret(
        re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
        rf"\1 {REDACTED}",
        ("bearer",),
    ),
    _Secret(
        re.compile(
            r"(\bauthorization[\"']?\s*[:=]\s*[\"']?)((?:[A-Za-z]+\s+)?)[^\s\"',;]+",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
        ("author",),
    ),
    # Secret URL parameters (query or fragment); code/state only as URL parameters.
    _Secret(
        re.compile(rf"([?&;#](?:{_QUERY_SECRETS})=)[^&#\s\"']*", re.IGNORECASE),
        rf"\1{REDACTED}",
        ("=",),
    ),
    # key=value in free text (form bodies, exception messages).
    _Secret(
        re.compile(
            r"(?<![A-Za-z0-9_])((?:access_token|refresh_token|id_token|client_secret"
            r"|code_verifier|password|api_key)=)[^&\s\"',;]*",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
        ("=",),
    ),
    # "key": "value" inside JSON text (provider error bodies).
    _Secret(
        re.compile(rf"(\"(?:{_QUERY_SECRETS}|authorization)\"\s*:\s*\")[^\"]*", re.IGNORECASE),
        rf"\1{REDACTED}",
        ('"',),
    ),
    # API keys: ours are scrm_<random>; also the common sk_live_/sk_test_/sk- styles.
    _Secret(
        re.compile(r"\b(scrm_|sk_|sk-)[A-Za-z0-9_-]{16,}"),
        rf"\1{REDACTED}",
        ("scrm_", "sk_", "sk-"),
    ),
    # JSON Web Tokens (id tokens, some access tokens) wherever they appear.
    _Secret(
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        REDACTED,
        ("eyJ",),
    ),
)


# Every pattern's literals, lower-cased, in one alternation: a text whose lower-cased form holds
# none of them cannot match any pattern (a case-sensitive literal in the text is in the
# lower-cased text too, lower-cased). Most strings of a line (its level, logger, timestamp, an
# access line without a query) are cleared by this one search instead of nine literal scans.
_ANY_LITERAL: Final = re.compile(
    "|".join(
        re.escape(literal.lower())
        for literal in dict.fromkeys(lit for secret in _STRING_SECRETS for lit in secret.needs)
    )
)


def redact_text(text: str) -> str:
    """``text`` with bearer tokens, API keys and secret URL parameters replaced."""
    lowered = text.lower()
    if _ANY_LITERAL.search(lowered) is None:
        return text
    for secret in _STRING_SECRETS:
        if secret.may_match(text, lowered):
            text = secret.pattern.sub(secret.replacement, text)
            lowered = text.lower()
    return text


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret_key(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(item) for item in value)
    return value


def redact_processor(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: secret keys (recursively) and secrets inside strings redacted.

    Pure: returns a new event dict and leaves the caller's objects untouched.
    """
    redacted = _redact_value(event_dict)
    assert isinstance(redacted, dict)
    return redacted


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(fmt: str, stream: TextIO) -> Processor:
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    if fmt == "console":
        # Plain tracebacks: rich ones print local variables, which may hold tokens.
        return structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    raise ValueError(f"unknown log format {fmt!r}: use auto, json or console")


# Loggers that libraries configure with handlers of their own (uvicorn's dictConfig); they are
# emptied so that their records reach the root handler and its redaction.
_ROUTED_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "huey")

# Libraries that narrate routine work at INFO: the queue's every periodic tick ("Enqueueing
# periodic task …", "Executing …", "… executed in 0.004s"), every outbound HTTP request, every
# migration step. Below DEBUG they say only warnings and errors, so the console shows what
# happened to the CRM, not that the scheduler ran; ``SOCIALCRM_LOG_LEVEL=debug`` lets them speak.
CHATTY_LOGGERS: Final = ("huey", "httpx", "httpcore", "alembic")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


def level_number(level: int | str) -> int:
    """``"info"`` or ``logging.INFO`` as the number; an unknown name is a ValueError."""
    if isinstance(level, int):
        return level
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}: use {', '.join(LOG_LEVELS)}")
    return int(logging.getLevelName(level.upper()))


def configure_logging(
    fmt: str = "auto", *, level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging to one redacting handler on ``stream`` (stderr).

    ``fmt`` is ``auto`` (console on a TTY, JSON otherwise), ``json`` or ``console``. Calling it
    again replaces the previous configuration. Run uvicorn with ``log_config=None`` (or call
    this after it starts) so that its access log goes through here too.
    """
    output = stream if stream is not None else sys.stderr
    renderer = _renderer(fmt, output)
    shared = _shared_processors()

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger used before configure_logging (at import time) must not keep
        # an unredacted configuration for the life of the process.
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # Tracebacks become text before redaction, so secrets in them are caught too.
                structlog.processors.format_exc_info,
                redact_processor,
                renderer,
            ],
        )
    )

    root = logging.getLogger()
    # Every existing root handler goes: one left behind would print lines unredacted.
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    number = level_number(level)
    root.setLevel(number)
    for name in CHATTY_LOGGERS:
        # Reset on every call: a DEBUG configuration must not leave them muted, nor the reverse.
        quiet = logging.NOTSET if number <= logging.DEBUG else max(number, logging.WARNING)
        logging.getLogger(name).setLevel(quiet)

    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        for existing in routed.handlers[:]:
            routed.removeHandler(existing)
        routed.propagate = True
