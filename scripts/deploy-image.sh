#!/usr/bin/env bash
# overnight's deployment image (deploy/Containerfile), built here without pulling
# from any registry:
#
#   scripts/deploy-image.sh [TAG]      (make deploy-image; default tag: localhost/overnight:VERSION)
#
# 1. the base image (scripts/container-image.sh: podman, its configuration, a
#    Debian root filesystem), 2. wheels of overnight and everything it depends on,
#    built on the host with the host's pip settings into deploy/build/wheels,
#    3. `podman build` of deploy/Containerfile FROM that base, apt over the host's
#    network. Prints the tag it built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
bash scripts/container-image.sh
DIR=${OVERNIGHT_CONTAINERS:-${XDG_CACHE_HOME:-$HOME/.cache}/overnight/containers}
export CONTAINERS_CONF="$DIR/containers.conf" CONTAINERS_STORAGE_CONF="$DIR/storage.conf"
base=$(cat "$DIR/base-image")
version=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
tag=${1:-localhost/overnight:$version}

rm -rf deploy/build
mkdir -p deploy/build
"$PY" -m pip wheel --quiet --disable-pip-version-check --wheel-dir deploy/build/wheels .
cp deploy/Containerfile deploy/build/Containerfile
podman build --quiet --network host --build-arg "BASE=$base" --tag "$tag" deploy/build >/dev/null
echo "deploy-image: built $tag FROM $base"
