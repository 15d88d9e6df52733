#!/usr/bin/env bash
# Installs what the browser tests need from Debian: chromium (Playwright drives /usr/bin/chromium).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  if [ -n "${CI:-}" ]; then echo "error: chromium is missing and cannot be installed (not root)" >&2; exit 1; fi
  echo "notice: chromium missing and not root: browser tests will be skipped" >&2; exit 0
fi
echo "installing Debian chromium for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
