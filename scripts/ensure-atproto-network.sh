#!/usr/bin/env bash
# Installs the AT Protocol reference network (@atproto/dev-env, pinned by
# tests/atproto/package-lock.json) into tests/atproto/node_modules, which git ignores.
# Runs `npm ci` only when the lock file changed since the last install on this machine, so
# a second run costs nothing; a fresh machine installs from the npm registry (about 2 min).
set -euo pipefail
cd "$(dirname "$0")/../tests/atproto"
stamp=node_modules/.socialcrm-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "error: Node.js/npm missing; the real-server tests (tests/atproto) need them" >&2
    exit 1
  fi
  echo "notice: Node.js/npm missing: the real-server tests will be skipped" >&2
  exit 0
fi
# better-sqlite3 compiles against the local Node headers (no download of headers).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
echo "installing @atproto/dev-env for the real-server tests (once per lock file)..."
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
