#!/usr/bin/env bash
# Installs what the tests need: the atproto network from npm, and from Debian: chromium (Playwright drives /usr/bin/chromium) and
# dovecot-imapd (the IMAP sync test starts its own throw-away server from it).
set -euo pipefail
# The AT Protocol reference network for tests/atproto (npm, cached in an ignored folder).
"$(dirname "$0")/ensure-atproto-network.sh"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
if [ "${#missing[@]}" = "0" ]; then exit 0; fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  if [ -n "${CI:-}" ]; then echo "error: ${missing[*]} missing and cannot be installed (not root)" >&2; exit 1; fi
  echo "notice: ${missing[*]} missing and not root: those tests will be skipped" >&2; exit 0
fi
echo "installing Debian ${missing[*]} for the tests..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# A system-wide dovecot the package may start is left alone: the test runs its own, with its
# own base_dir, on ephemeral loopback ports.
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
