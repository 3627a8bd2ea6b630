#!/bin/sh
# Debian's chromium, for the dashboard's end-to-end tests (Playwright drives
# /usr/bin/chromium; Playwright's own browser download cannot work here).
# Idempotent: does nothing when /usr/bin/chromium exists; installs it only
# when root with apt-get; otherwise says what to run and exits 0, so the
# browser tests skip instead of failing the whole suite.
set -eu

if [ -x /usr/bin/chromium ]; then
    echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) is installed; nothing to do"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: /usr/bin/chromium is missing; the browser tests will be skipped" >&2
    echo "install-browser: install it as root: apt-get install -y chromium" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-browser: apt-get update; apt-get install chromium"
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
