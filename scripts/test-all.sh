#!/usr/bin/env bash
# The whole suite: the SQLite pass and the PostgreSQL + Redis pass side by side (`make test`).
# Each pass has its own Redis db and pytest basetemp, so neither disturbs the other; most of a
# pass's time is spent waiting on servers, browsers and sockets, so two at once finish in about
# the time of the longer one. Each pass's output is prefixed ([sqlite] / [postgresql]) and its
# whole log is printed again at the end when it failed. SOCIALCRM_TEST_SERIAL=1 runs them one
# after the other instead.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL="${SOCIALCRM_TEST_REDIS_URL:-}"
# The SQLite pass tests the Redis queue too (when a Redis URL is given): on the next db down.
SQLITE_REDIS_URL="${SOCIALCRM_TEST_SQLITE_REDIS_URL:-}"
if [ -z "$SQLITE_REDIS_URL" ] && [ -n "$REDIS_URL" ]; then
  SQLITE_REDIS_URL="$(.venv/bin/python - "$REDIS_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
db = int(url.path.strip("/") or 0)
print(urlunsplit(url._replace(path=f"/{db - 1 if db > 0 else 1}")))
PY
)"
fi
logs="$(mktemp -d "${TMPDIR:-/tmp}/socialcrm-test.XXXXXX")"

run_sqlite() {
  env -u SOCIALCRM_TEST_POSTGRES_URL SOCIALCRM_TEST_REDIS_URL="$SQLITE_REDIS_URL" \
    .venv/bin/pytest -q -p no:cacheprovider --ignore=tests/atproto --basetemp "$logs/sqlite-tmp"
}
run_scaleout() {
  PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --basetemp $logs/postgresql-tmp" scripts/test-scaleout.sh
}

if [ -n "${SOCIALCRM_TEST_SERIAL:-}" ]; then
  echo "== the suite on SQLite =="
  run_sqlite
  run_scaleout
  exit 0
fi

echo "== the suite on SQLite and on PostgreSQL + Redis, side by side (logs in $logs) =="
start=$(date +%s)
( set -o pipefail; run_sqlite 2>&1 | tee "$logs/sqlite.log" | sed -u 's/^/[sqlite] /' ) &
sqlite_pid=$!
( set -o pipefail; run_scaleout 2>&1 | tee "$logs/postgresql.log" | sed -u 's/^/[postgresql] /' ) &
scaleout_pid=$!
sqlite_rc=0; wait "$sqlite_pid" || sqlite_rc=$?
scaleout_rc=0; wait "$scaleout_pid" || scaleout_rc=$?
echo "== done in $(( ($(date +%s) - start) / 60 )) min: SQLite exit $sqlite_rc, PostgreSQL + Redis exit $scaleout_rc =="
show_failures() {  # $1: the pass, $2: its exit code
  if [ "$2" != 0 ]; then
    echo "== the $1 pass failed (exit $2); its summary =="
    grep -E '^(FAILED|ERROR)|passed|failed|error' "$logs/$1.log" | tail -40 || true
  fi
}
show_failures sqlite "$sqlite_rc"
show_failures postgresql "$scaleout_rc"
[ "$sqlite_rc" = 0 ] && [ "$scaleout_rc" = 0 ]
