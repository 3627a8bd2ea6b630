#!/bin/sh
# System packages overnight needs: bubblewrap (the bwrap sandbox), socat (the
# model socket's forwarder), git, setpriv (util-linux), and PostgreSQL's server
# binaries (the test suite starts a throwaway cluster when none is running).
# Idempotent: installs only what is missing, and only when root with apt-get;
# otherwise prints the command to run and exits 1. Prints what it did.
set -eu

need=""
command -v bwrap >/dev/null 2>&1 || need="$need bubblewrap"
command -v socat >/dev/null 2>&1 || need="$need socat"
command -v git >/dev/null 2>&1 || need="$need git"
command -v setpriv >/dev/null 2>&1 || need="$need util-linux"
# PostgreSQL server binaries, for the tests' throwaway cluster when no server runs
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
need="${need# }"

if [ -z "$need" ]; then
    echo "system-deps: bubblewrap, socat, git, setpriv and postgresql are installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing: $need" >&2
    echo "system-deps: install them as root, e.g.: apt-get install -y $need" >&2
    exit 1
fi
echo "system-deps: installing: $need"
export DEBIAN_FRONTEND=noninteractive
# an update only when the package lists do not know a package yet
for pkg in $need; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        echo "system-deps: apt-get update"
        apt-get update -qq
        break
    fi
done
# shellcheck disable=SC2086  # one word per package
apt-get install -y -qq --no-install-recommends $need >/dev/null
echo "system-deps: installed: $need ($(bwrap --version 2>/dev/null || echo 'bwrap ?'))"
