"""Log lines leave the process with secrets replaced, in valid JSON or readable console form."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
import uvicorn.config
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.core.logging import (
    _STRING_SECRETS,
    REDACTED,
    configure_logging,
    redact_processor,
    redact_text,
)

ACCESS_TOKEN = "AT-7f3a9c1e5b2d4f60"
BEARER = "b3ar3r-T0KEN-9d8c7b6a"
API_KEY = "scrm_Qm9vYmFyQmF6UXV4UXV1eDEyMzQ1Njc4OQ"
OAUTH_CODE = "oauth-code-1a2b3c4d5e"
OAUTH_STATE = "state-6f7e8d9c0b"
SECRETS = (ACCESS_TOKEN, BEARER, API_KEY, OAUTH_CODE, OAUTH_STATE)
CALLBACK_URL = f"https://crm.example/oauth/callback?code={OAUTH_CODE}&state={OAUTH_STATE}"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back after each test."""
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "huey")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in names}
    yield
    root.handlers[:], root.level = saved_root
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate
    configure_logging("console")  # the suite's own configuration (tests/conftest.py)
    structlog.reset_defaults()


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert REDACTED in text


# --- the pure processor ----------------------------------------------------------------------


def test_redact_processor_redacts_secret_keys_recursively_and_case_insensitively() -> None:
    event = {
        "event": "token refreshed",
        "Access_Token": ACCESS_TOKEN,
        "account": {"handle": "@alice", "refresh_token": "rt", "nested": [{"PASSWORD": "pw"}]},
        "headers": {"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY, "Accept": "*/*"},
        "params": ("code", {"code_verifier": "v", "state": OAUTH_STATE}),
        "attempt": 2,
    }
    original = copy.deepcopy(event)

    redacted = redact_processor(None, "info", event)

    assert redacted == {
        "event": "token refreshed",
        "Access_Token": REDACTED,
        "account": {
            "handle": "@alice",
            "refresh_token": REDACTED,
            "nested": [{"PASSWORD": REDACTED}],
        },
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "*/*"},
        "params": ("code", {"code_verifier": REDACTED, "state": REDACTED}),
        "attempt": 2,
    }
    assert event == original  # pure: the caller's dict is untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {BEARER}", f"Authorization: Bearer {REDACTED}"),
        (f"sent bearer {BEARER} upstream", f"sent bearer {REDACTED} upstream"),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {REDACTED}"),
        (CALLBACK_URL, f"https://crm.example/oauth/callback?{REDACTED}"),
        (
            f'127.0.0.1:5000 - "GET /oauth/callback/mastodon?code={OAUTH_CODE} HTTP/1.1" 200',
            f'127.0.0.1:5000 - "GET /oauth/callback/mastodon?{REDACTED} HTTP/1.1" 200',
        ),
        (
            f"https://x.example/cb?ok=1&code={OAUTH_CODE}&state={OAUTH_STATE}#top",
            f"https://x.example/cb?ok=1&code={REDACTED}&state={REDACTED}#top",
        ),
        (
            f"GET https://m.example/api/v1/x?access_token={ACCESS_TOKEN}&limit=5",
            f"GET https://m.example/api/v1/x?access_token={REDACTED}&limit=5",
        ),
        (
            f"https://app.example/#access_token={ACCESS_TOKEN}",
            f"https://app.example/#access_token={REDACTED}",
        ),
        (
            "grant_type=refresh_token&refresh_token=rt1&client_secret=cs1",
            f"grant_type=refresh_token&refresh_token={REDACTED}&client_secret={REDACTED}",
        ),
        (f"bad key {API_KEY} for tenant 7", f"bad key scrm_{REDACTED} for tenant 7"),
        ("stripe sk_live_51HxYzAbCdEfGhIjKl0", f"stripe sk_{REDACTED}"),
        (
            f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer"}}',
            f'{{"access_token": "{REDACTED}", "token_type": "Bearer"}}',
        ),
        (
            "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            f"id {REDACTED}",
        ),
        # Ordinary text is left alone.
        ("status code=500 after 3 attempts", "status code=500 after 3 attempts"),
        ("refresh token expired for @alice", "refresh token expired for @alice"),
        ("https://mastodon.example/@alice?page=2", "https://mastodon.example/@alice?page=2"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


secret_values = st.text(alphabet="0123456789ABCDEF", min_size=16, max_size=64)
contexts = st.sampled_from(
    [
        "Authorization: Bearer {}",
        "https://crm.example/oauth/callback?state=s&code={}",
        "https://m.example/api?x=1&access_token={}&y=2",
        "refresh_token={}",
        "client key scrm_{} rejected",
        '{{"refresh_token": "{}"}}',
    ]
)


@given(contexts, secret_values)
def test_a_secret_in_any_known_context_never_survives(context: str, secret: str) -> None:
    event = {"event": context.format(secret), "extra": [context.format(secret)]}
    assert secret not in json.dumps(redact_processor(None, "info", event))


def redact_every_pattern(text: str) -> str:
    """``redact_text`` without the literal guards: every regex on every text."""
    for secret in _STRING_SECRETS:
        text = secret.pattern.sub(secret.replacement, text)
    return text


# Pieces of every pattern, in any case, and letters that case-fold oddly
# (U+0131, U+0130, U+212A, U+017F).
fragments = st.lists(
    st.sampled_from(
        [
            "Bearer ",
            "bEaReR\t",
            "Authorization",
            "AUTHORIZATION",
            "author\u0131zation",
            "author\u0130zation",
            "/oauth/callback",
            "?",
            "&",
            "#",
            ";",
            "=",
            ": ",
            '"',
            "'",
            "code",
            "STATE",
            "Access_Token",
            "refresh_token",
            "client_secret",
            "password",
            "api_key",
            "scrm_",
            "sk_",
            "sk-",
            "\u017fk_",
            "\u212ak-",
            "eyJ",
            "EYJ",
            ".",
            " ",
            "abcdEFGH1234",
            "0123456789abcdef0123",
        ]
    )
    | st.text(max_size=4),
    max_size=12,
).map("".join)


@given(fragments)
def test_the_literal_guards_never_skip_a_match(text: str) -> None:
    assert redact_text(text) == redact_every_pattern(text)


# --- real output -----------------------------------------------------------------------------


def test_structlog_event_with_secrets_is_emitted_as_redacted_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")  # stderr is not a TTY under capsys; JSON either way

    structlog.get_logger("socialcrm.connections").info(
        "oauth callback received",
        url=CALLBACK_URL,
        access_token=ACCESS_TOKEN,
        headers={"Authorization": f"Bearer {BEARER}"},
        note=f"tenant key {API_KEY}",
        tenant_id=7,
    )

    err = capsys.readouterr().err
    assert_no_secret(err)
    [line] = json_lines(err)
    assert line["event"] == "oauth callback received"
    assert line["level"] == "info"
    assert line["logger"] == "socialcrm.connections"
    assert line["tenant_id"] == 7
    assert line["url"] == f"https://crm.example/oauth/callback?{REDACTED}"
    assert line["access_token"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED}
    assert line["note"] == f"tenant key scrm_{REDACTED}"
    assert "timestamp" in line


def test_stdlib_logging_is_routed_through_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", level="debug")  # httpx's request lines show at debug only

    logging.getLogger("httpx").info(
        'HTTP Request: GET %s "HTTP/1.1 200 OK"',
        f"https://m.example/api/v1/accounts?access_token={ACCESS_TOKEN}",
    )
    logging.getLogger("socialcrm.legacy").warning(
        "upstream said no", extra={"authorization": f"Bearer {BEARER}", "attempt": 1}
    )

    err = capsys.readouterr().err
    assert_no_secret(err)
    first, second = json_lines(err)
    assert first["logger"] == "httpx"
    assert first["event"].endswith(f'?access_token={REDACTED} "HTTP/1.1 200 OK"')
    assert second["authorization"] == REDACTED
    assert second["attempt"] == 1
    assert second["level"] == "warning"


def test_exception_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    log = structlog.get_logger("socialcrm.providers")

    try:
        raise RuntimeError(f"upstream rejected Bearer {BEARER}")
    except RuntimeError:
        log.exception("refresh failed")

    err = capsys.readouterr().err
    [line] = json_lines(err)
    assert BEARER not in err
    assert "RuntimeError: upstream rejected Bearer [REDACTED]" in line["exception"]


def test_console_format_is_redacted_and_readable() -> None:
    stream = io.StringIO()
    configure_logging("console", stream=stream)

    structlog.get_logger("socialcrm.web").info("callback", url=CALLBACK_URL, api_key=API_KEY)

    output = stream.getvalue()
    assert_no_secret(output)
    assert "callback" in output
    assert f"url=https://crm.example/oauth/callback?{REDACTED}" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_json_when_piped_and_console_on_a_terminal() -> None:
    piped, terminal = io.StringIO(), _Terminal()

    configure_logging("auto", stream=piped)
    structlog.get_logger().info("hello", n=1)
    configure_logging("auto", stream=terminal)
    structlog.get_logger().info("hello", n=1)

    assert json_lines(piped.getvalue())[0]["event"] == "hello"
    assert not terminal.getvalue().lstrip().startswith("{")
    assert "hello" in terminal.getvalue()
    assert piped.getvalue().count("hello") == 1  # reconfiguring replaced the first handler


def test_level_filters_below_the_threshold() -> None:
    stream = io.StringIO()
    configure_logging("json", level="WARNING", stream=stream)

    structlog.get_logger().info("quiet")
    logging.getLogger("socialcrm").info("quiet too")
    structlog.get_logger().warning("loud")

    assert [line["event"] for line in json_lines(stream.getvalue())] == ["loud"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("xml")


async def _callback_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"connected"})


def test_uvicorn_access_log_never_shows_the_oauth_callback_query() -> None:
    # As a process would be: uvicorn's own logging config first, then ours over it.
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    stream = io.StringIO()
    configure_logging("json", stream=stream)

    config = uvicorn.Config(
        _callback_app, host="127.0.0.1", port=0, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        response = httpx.get(
            f"http://127.0.0.1:{port}/oauth/callback?code={OAUTH_CODE}&state={OAUTH_STATE}"
        )
        assert response.text == "connected"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    output = stream.getvalue()
    assert_no_secret(output)
    access = [line for line in json_lines(output) if line["logger"] == "uvicorn.access"]
    assert len(access) == 1
    assert f'"GET /oauth/callback?{REDACTED} HTTP/1.1" 200' in access[0]["event"]


def _one_periodic_tick(stream: io.StringIO) -> str:
    """What a consumer logs for one periodic task: the scheduler enqueues it, a worker runs
    it, and the task itself makes an outbound request (httpx logs each one)."""
    from huey import MemoryHuey, crontab
    from huey.consumer import Consumer

    queue = MemoryHuey("tick-test", utc=True)
    transport = httpx.MockTransport(lambda request: httpx.Response(200))

    @queue.periodic_task(crontab(minute="*"))
    def poll_all_mentions() -> None:
        with httpx.Client(transport=transport) as client:
            client.get("https://network.example/mentions")

    consumer = Consumer(queue, workers=1, periodic=True)
    consumer._create_scheduler().enqueue_periodic_tasks(queue._get_timestamp())
    task = queue.dequeue()
    assert task is not None
    queue.execute(task)
    return stream.getvalue()


def test_a_periodic_tick_logs_nothing_on_the_console_at_the_default_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from socialcrm.core.settings import Settings

    monkeypatch.delenv("SOCIALCRM_LOG_LEVEL", raising=False)
    stream = io.StringIO()
    configure_logging("console", level=Settings().log_level, stream=stream)

    assert _one_periodic_tick(stream) == ""
    structlog.get_logger("socialcrm.listening").info("mention_ingested", mention_id=7)
    logging.getLogger("huey").warning("task failed, retrying")
    assert "mention_ingested" in stream.getvalue()  # the CRM's own INFO lines still show
    assert "task failed, retrying" in stream.getvalue()


def test_log_level_debug_lets_the_periodic_tick_speak(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcrm.core.settings import Settings

    monkeypatch.setenv("SOCIALCRM_LOG_LEVEL", "debug")
    stream = io.StringIO()
    configure_logging("console", level=Settings().log_level, stream=stream)

    output = _one_periodic_tick(stream)
    assert "Enqueueing periodic task" in output
    assert "Executing" in output and "poll_all_mentions" in output
    assert "HTTP Request: GET https://network.example/mentions" in output
    configure_logging("console", level="info", stream=stream)  # and back: muted again
    assert logging.getLogger("huey").getEffectiveLevel() == logging.WARNING


def test_an_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from socialcrm.core.settings import Settings

    monkeypatch.setenv("SOCIALCRM_LOG_LEVEL", "chatty")
    with pytest.raises(ValidationError):
        Settings()
