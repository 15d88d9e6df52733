"""Where a request's time goes in ``socialcrm serve``: py-spy samples the server while wrk reads
contacts by id, and the samples are summed into the parts of the request path (inclusive: a
sample counts for every part on its stack).

    .venv/bin/python bench/profile_api.py [--contacts 10000] [--seconds 15] [--path list|get|search]
        [--database-url postgresql://…] [--gil]

py-spy is in the dev extra; wrk is Debian's package (see bench/api.py). py-spy needs ptrace
rights over the server (root, or ``kernel.yama.ptrace_scope=0``).
"""

import argparse
import collections
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api import find_wrk, lua_script, seed, stop
from serving import free_port, start_server

# part of the request path -> substrings of a frame ("function (file)") that mark it
PARTS: dict[str, tuple[str, ...]] = {
    "uvicorn + httptools protocol": ("uvicorn/protocols/http",),
    "access log line (logging + structlog + redaction)": ("logging/__init__.py", "structlog/"),
    "  of which redaction": ("redact_processor", "redact_text"),
    "  of which JSON rendering": ("JSONRenderer",),
    "security headers middleware": ("web/headers.py",),
    "request limits middleware": ("web/limits.py",),
    "session cookie middleware": ("middleware/sessions.py",),
    "exception/error middlewares": ("middleware/exceptions.py", "middleware/errors.py"),
    "routing (match)": ("matches (",),
    "FastAPI dependencies + params": ("solve_dependencies (",),
    "thread pool hops (anyio)": ("anyio/to_thread.py", "run_sync_in_worker_thread"),
    "authentication (api_context)": ("api_context",),
    "  authenticate_api_key": ("authenticate_api_key",),
    "ORM Session commit/close": ("commit (", "close ("),
    "tenant scoping event": ("_scope_to_tenant",),
    "ORM query (get/execute, incl. SQL)": ("service.py", "list_page"),
    "  of which DBAPI execute (SQL)": ("do_execute",),
    "  of which ORM hydration (loading)": ("orm/loading.py",),
    "  of which pool checkout/checkin": ("pool/base.py",),
    "response model (pydantic validate+serialise)": ("serialize_response",),
    "JSON response render": ("starlette/responses.py", "jsonable_encoder ("),
}


def frames_of(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def summarise(raw: Path) -> None:
    total = 0
    hits: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        frames, count = frames_of(line)
        total += count
        own[frames[-1]] += count
        for part, marks in PARTS.items():
            if any(mark in frame for frame in frames for mark in marks):
                hits[part] += count
    print(f"{total} samples of busy threads (py-spy leaves idle ones out)")
    for part in PARTS:
        print(f"  {part:50} {100 * hits[part] / max(total, 1):5.1f} %")
    print("hottest own frames:")
    for frame, count in own.most_common(25):
        print(f"  {100 * count / total:5.1f} %  {frame[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--path", choices=("get", "list", "search"), default="get")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--raw", type=Path, help="summarise this py-spy raw file only")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL (where the CPU goes; without it, threads "
        "waiting for the GIL inside C calls count as busy)",
    )
    args = parser.parse_args()
    if args.raw:
        summarise(args.raw)
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is in the dev extra: make install")
    wrk = find_wrk()
    with tempfile.TemporaryDirectory() as name:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
        env |= {"SOCIALCRM_DATA_DIR": name}
        if args.database_url:
            env["SOCIALCRM_DATABASE_URL"] = args.database_url
        key, ids = seed(env, args.contacts)
        rng = random.Random(3)
        paths = {
            "get": [f"/api/contacts/{rng.choice(ids)}" for _ in range(2000)],
            "list": ["/api/contacts?limit=50"],
            "search": [f"/api/contacts?q=lovelace%20{rng.randrange(len(ids))}" for _ in range(300)],
        }[args.path]
        script = lua_script(Path(name), "profile", paths, 1)
        port = free_port()
        server = start_server(env, port)
        raw = Path(name) / "profile.txt"
        load_command = [wrk, "-t1", "-c16", f"-d{args.seconds + 3}s", "-s", str(script)]
        spy_command = [spy, "record", "-r", "250", "-d", str(args.seconds), "-f", "raw"]
        spy_command += ["--gil"] if args.gil else []
        try:
            load = subprocess.Popen(
                [*load_command, "-H", f"Authorization: Bearer {key}", f"http://127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)
            subprocess.run(
                [*spy_command, "-o", str(raw), "--nonblocking", "-p", str(server.pid)],
                check=True,
                capture_output=True,
            )
            load.wait()
        finally:
            stop(server)
        summarise(raw)
        kept = Path(tempfile.gettempdir()) / f"socialcrm-profile-{args.path}.txt"
        shutil.copy(raw, kept)
        print(f"raw stacks kept in {kept}")


if __name__ == "__main__":
    main()
