"""The ``socialcrm`` command line, run for real in subprocesses on a fresh data directory."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, empty_database


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
    env["SOCIALCRM_DATA_DIR"] = str(data_dir)
    env["SOCIALCRM_LOG_FORMAT"] = "json"
    return env


def socialcrm(
    data_dir: Path | None,
    *args: str,
    stdin: str = "",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess; ``data_dir=None``: no SOCIALCRM_DATA_DIR (the default
    ``./var`` of ``cwd``)."""
    environment = cli_env(data_dir or Path())
    if data_dir is None:
        del environment["SOCIALCRM_DATA_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "socialcrm.cli", *args],
        env=environment | (env or {}),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    data_dir: Path, *args: str, port: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path]]:
    """``socialcrm serve ...`` in the background until /health answers; its output in a file."""
    log = data_dir / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "socialcrm.cli", "serve", "--port", str(port), *args],
            env=cli_env(data_dir) | (env or {}),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield base, log
            assert process.poll() is None, log.read_text()
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_api_key_create_prints_the_key_last_and_it_works(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    made = socialcrm(
        tmp_path, "api-key", "create", "--tenant", "Acme", "--create-tenant", "--role", "agent"
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("scrm_")
    with running(tmp_path, "--no-worker", port=free_port()) as (base, log):
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{base}/api/contacts", json={"name": "Ada"}, headers=headers)
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/api/contacts", headers=headers).json()
        assert [c["name"] for c in listed["items"]] == ["Ada"]
        assert httpx.get(f"{base}/api/contacts").status_code == 401
    assert key not in log.read_text()


def test_api_key_revoke_is_refused_by_a_running_server(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    made = socialcrm(tmp_path, "api-key", "create", "--tenant", "Acme", "--create-tenant")
    key = made.stdout.strip().splitlines()[-1]
    key_id = re.search(r"API key (\d+) created", made.stderr)
    assert key_id is not None, made.stderr
    port = free_port()
    with running(tmp_path, "--no-worker", port=port, env={"SOCIALCRM_API_KEY_CACHE_S": "1"}) as (
        base,
        _log,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{base}/api/contacts", headers=headers).status_code == 200
        revoked = socialcrm(tmp_path, "api-key", "revoke", key_id.group(1))
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 10
        while (answer := httpx.get(f"{base}/api/contacts", headers=headers)).status_code == 200:
            assert time.monotonic() < deadline, "the server still accepts a revoked key"
            time.sleep(0.2)
        assert answer.status_code == 401
        assert answer.json()["error"]["message"] == "this API key has been revoked"
    unknown = socialcrm(tmp_path, "api-key", "revoke", "999")
    assert unknown.returncode != 0
    assert "no API key 999" in unknown.stderr


def test_bad_input_is_a_message_and_a_non_zero_exit(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    bad_role = socialcrm(tmp_path, "api-key", "create", "--tenant", "Acme", "--role", "owner")
    assert bad_role.returncode != 0
    assert "owner" in bad_role.stderr
    made = socialcrm(
        tmp_path,
        "user",
        "create",
        "--tenant",
        "Acme",
        "--create-tenant",
        "--email",
        "ada@acme.test",
        stdin="s3cret-passw0rd\n",
    )
    assert made.returncode == 0, made.stderr
    again = socialcrm(
        tmp_path,
        "user",
        "create",
        "--tenant",
        "Acme",
        "--email",
        "ada@acme.test",
        stdin="s3cret-passw0rd\ns3cret-passw0rd\n",
    )
    assert again.returncode != 0
    assert "error" in again.stderr.lower()
    missing_world = socialcrm(tmp_path, "sandbox", "--world", str(tmp_path / "nope.json"))
    assert missing_world.returncode != 0


@pytest.mark.timeout(180)
def test_serve_demo_is_ready_to_click(tmp_path: Path) -> None:
    """What ``make run`` starts: the API, the UI, a worker, the sandbox and the demo data."""
    port, sandbox_port = free_port(), free_port()
    with running(tmp_path, "--demo", "--sandbox-port", str(sandbox_port), port=port) as (
        base,
        log,
    ):
        output = log.read_text()
        login = re.search(r"Log in\s+(\S+) / (\S+)", output)
        key = re.search(r"API key\s+(scrm_\S+)", output)
        assert login is not None and key is not None, output
        contacts = httpx.get(
            f"{base}/api/contacts", headers={"Authorization": f"Bearer {key[1]}"}
        ).json()
        assert len(contacts["items"]) >= 5
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            page = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            home = browser.post(
                "/login", data={"email": login[1], "password": login[2], "csrf": csrf[1]}
            )
            assert home.status_code == 200
            assert contacts["items"][0]["name"] in home.text
            connections = browser.get("/connections")
            assert "Connect" in connections.text
        assert httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/health").status_code == 200
        output = log.read_text()
    # The banner survives an 80-column terminal (log lines are JSON here, and not the banner's).
    banner = [line for line in output.splitlines() if line and not line.startswith("{")]
    assert banner and all(len(line) <= 80 for line in banner), banner
    # The worker ran its periodic tasks at start; at the default level that is not news.
    assert "Enqueueing periodic task" not in output
    assert "Executing socialcrm." not in output


def test_serve_workers_above_one_need_redis(tmp_path: Path) -> None:
    result = socialcrm(tmp_path, "serve", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 2
    assert "SOCIALCRM_QUEUE_URL=redis://" in result.stderr


@pytest.mark.timeout(240)
@contextmanager
def two_server_processes(
    tmp_path: Path, redis_url: str
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """``serve --workers 2`` sharing a Redis queue; an admin's keep-alive client to each."""
    import redis

    queue_url = redis_url.rsplit("/", 1)[0] + "/13"  # its own database: nothing left behind
    redis.Redis.from_url(queue_url).flushdb()
    assert socialcrm(tmp_path, "migrate").returncode == 0
    made = socialcrm(
        tmp_path, "api-key", "create", "--tenant", "Acme", "--create-tenant", "--role", "admin"
    )
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    env = {"SOCIALCRM_QUEUE_URL": queue_url}
    clients: dict[int, httpx.Client] = {}  # server process -> a keep-alive connection to it
    try:
        with running(tmp_path, "--no-worker", "--workers", "2", port=free_port(), env=env) as (
            base,
            _log,
        ):
            for _ in range(200):  # new connections until each process holds one
                client = httpx.Client(base_url=base, headers=headers, timeout=20)
                process = client.get("/health").json()["process"]
                if process in clients:
                    client.close()
                else:
                    clients[process] = client
                if len(clients) == 2:
                    break
            assert len(clients) == 2, "the kernel never handed a connection to the second process"
            one, other = clients.values()
            yield one, other
    finally:
        for client in clients.values():
            client.close()
        redis.Redis.from_url(queue_url).flushdb()


def test_serve_workers_share_one_identity_cache_through_redis(
    tmp_path: Path, redis_url: str
) -> None:
    """Two server processes: a policy changed through one applies in the other at once (it
    drops its cached answers and policy), not after the 5-minute and 30-second TTLs."""
    body = {"handle": "kay", "channel": "x", "user_id": "9"}
    with two_server_processes(tmp_path, redis_url) as (one, other):
        contact = {"name": "Kay", "handles": [{"network": "x", "handle": "kay", "user_id": "9"}]}
        assert one.post("/api/contacts", json=contact).is_success
        for client in (one, other):
            client.post("/api/v1/resolve", json=body)
            assert client.post("/api/v1/resolve", json=body).json()["cached"] is True
        policy = one.get("/api/identity/settings").json()
        changed = one.put(
            "/api/identity/settings", json=policy | {"fresh_tiers": ["standard", "platinum"]}
        )
        assert changed.status_code == 200, changed.text
        deadline = time.monotonic() + 5  # the message crosses Redis
        while other.post("/api/v1/resolve", json=body).json()["cached"]:
            assert time.monotonic() < deadline, "the other process kept its cached answer"
            time.sleep(0.05)
        assert other.post("/api/v1/resolve", json=body).json()["cached"] is False  # policy too


def test_serve_workers_share_one_rate_limit_per_sender(tmp_path: Path, redis_url: str) -> None:
    """A sender's budget is one across the processes, whether a request is counted on the
    event loop (a cached answer) or in a worker thread."""
    body = {"handle": "kay", "channel": "x", "user_id": "9"}
    with two_server_processes(tmp_path, redis_url) as (one, other):
        policy = one.get("/api/identity/settings").json()
        assert one.put(
            "/api/identity/settings", json=policy | {"rate_limit_per_minute": 4}
        ).is_success
        contact = {"name": "Kay", "handles": [{"network": "x", "handle": "kay", "user_id": "9"}]}
        assert one.post("/api/contacts", json=contact).is_success
        answers = [client.post("/api/v1/resolve", json=body) for client in (one, other) * 3]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
        assert [a.json()["cached"] for a in answers[:4]] == [False, False, True, True]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """A refusal is a non-zero exit and one line on stderr, never a traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_misspelt_tenant_is_refused_not_created(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    made = socialcrm(tmp_path, "api-key", "create", "--tenant", "Acme Outdoor", "--create-tenant")
    assert made.returncode == 0, made.stderr
    typo = socialcrm(tmp_path, "api-key", "create", "--tenant", "Acme Outdor")
    assert "no tenant named 'Acme Outdor'" in one_line_error(typo)
    assert "--create-tenant" in typo.stderr
    assert "scrm_" not in typo.stdout
    user = socialcrm(
        tmp_path, "user", "create", "--tenant", "Acme Outdor", "--email", "a@acme.test",
        stdin="s3cret-passw0rd\n",
    )  # fmt: skip
    assert "no tenant named 'Acme Outdor'" in one_line_error(user)
    tenants = socialcrm(tmp_path, "tenant", "list")
    assert tenants.returncode == 0, tenants.stderr
    names = [line.split("\t")[1] for line in tenants.stdout.strip().splitlines()[1:]]
    assert names == ["Acme Outdoor"]


def test_user_create_checks_the_email_and_takes_no_password_option(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    base = ("user", "create", "--tenant", "Acme", "--create-tenant")
    bad = socialcrm(tmp_path, *base, "--email", "ada(at)acme", stdin="s3cret-passw0rd\n")
    assert "not a valid email address" in one_line_error(bad)
    # A password on the command line shows in `ps`: there is no such option.
    shown = socialcrm(tmp_path, *base, "--email", "ada@acme.test", "--password", "s3cret-pw")
    assert shown.returncode == 2 and "No such option" in shown.stderr
    made = socialcrm(tmp_path, *base, "--email", " Ada@Acme.test ", stdin="s3cret-passw0rd\n")
    assert made.returncode == 0, made.stderr
    assert "s3cret" not in made.stdout + made.stderr
    users = socialcrm(tmp_path, "user", "list", "--tenant", "Acme")
    assert users.returncode == 0, users.stderr
    rows = [line.split("\t") for line in users.stdout.strip().splitlines()]
    assert rows[0][:5] == ["id", "tenant", "email", "name", "role"]
    assert [(r[1], r[2], r[4]) for r in rows[1:]] == [("Acme", "ada@acme.test", "agent")]


def test_api_key_list_shows_keys_but_never_their_secret(tmp_path: Path) -> None:
    assert socialcrm(tmp_path, "migrate").returncode == 0
    keys = [
        socialcrm(
            tmp_path, "api-key", "create", "--tenant", tenant, "--create-tenant", "--name", label
        ).stdout.strip()
        for tenant, label in (("Acme", "zapier"), ("Beta", "ci"))
    ]
    listed = socialcrm(tmp_path, "api-key", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert [(r[1], r[3]) for r in rows[1:]] == [("Beta", "ci"), ("Acme", "zapier")]
    for key in keys:
        assert key not in listed.stdout
        assert key[:11] + "…" in listed.stdout  # the stored prefix, to tell keys apart
    only = socialcrm(tmp_path, "api-key", "list", "--tenant", "Acme")
    assert "Beta" not in only.stdout and "zapier" in only.stdout


def test_version(tmp_path: Path) -> None:
    from socialcrm import __version__

    shown = socialcrm(tmp_path, "--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"socialcrm {__version__}"


def test_without_a_database_every_command_says_migrate_first(tmp_path: Path) -> None:
    """Run from another folder: one line, and no ./var left behind by looking."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (
        ("tenant", "list"),
        ("api-key", "list"),
        ("user", "list"),
        ("api-key", "create", "--tenant", "Acme", "--create-tenant"),
        ("audit", "list", "--tenant", "Acme"),
        ("identity", "sync", "--tenant", "Acme"),
        ("enrich", "run", "--tenant", "Acme"),
        ("emails", "sync", "--account", "1"),
        ("listening", "check-sla"),
        ("listening", "poll"),
    ):
        result = socialcrm(None, *command, cwd=elsewhere)
        assert "run `socialcrm migrate` first" in one_line_error(result), command
    assert list(elsewhere.iterdir()) == []


def test_a_database_never_migrated_says_migrate_first(tmp_path: Path) -> None:
    with empty_database(tmp_path, "unmigrated") as url:
        if not PG_URL:
            (tmp_path / "unmigrated.db").touch()
        env = {"SOCIALCRM_DATABASE_URL": url}
        for command in (("tenant", "list"), ("api-key", "create", "--tenant", "Acme")):
            result = socialcrm(tmp_path, *command, env=env)
            line = one_line_error(result)
            assert line == "error: the database has no tables yet: run `socialcrm migrate` first"


def test_a_bad_sandbox_world_is_a_message(tmp_path: Path) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text("{people: [")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"people": 3}')
    for world, expected in ((not_json, "Expecting property name"), (wrong, "people")):
        result = socialcrm(tmp_path, "sandbox", "--world", str(world), "--port", "1")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "is not a valid sandbox world" in result.stderr
        assert expected in result.stderr


def test_help_loads_no_database_or_web_stack(tmp_path: Path) -> None:
    """`socialcrm --help` took 3.7 s loading every domain; commands import what they use."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['socialcrm', '--help']\n"
        "try:\n    runpy.run_module('socialcrm.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'fastapi', 'pydantic', 'huey', 'authlib', 'httpx', 'limits')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tenant" in result.stdout and "audit" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert not (tmp_path / "socialcrm.db").exists()


def test_commands_print_no_deprecation_warning(tmp_path: Path) -> None:
    """Authlib's httpx integration warned on every command (it wants httpx2); the OAuth code
    now uses Authlib's framework-neutral client with our own httpx clients."""
    everything = subprocess.run(
        [sys.executable, "-c", "import socialcrm.app, socialcrm.worker"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert everything.returncode == 0 and everything.stderr == "", everything.stderr
    world = tmp_path / "world.json"
    world.write_text("[]")
    for command in (("migrate",), ("tenant", "list"), ("sandbox", "--world", str(world))):
        result = socialcrm(tmp_path, *command)
        assert "Warning" not in result.stderr, result.stderr
