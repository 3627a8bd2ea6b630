#!/usr/bin/env bash
# The container sandbox's engine and base image, built here from Debian's
# packages (no registry pull):
#
#   scripts/container-image.sh          (`make container`)
#
# 1. podman, runc, catatonit and mmdebstrap are installed with apt-get when missing (as
#    root; otherwise the command to run is printed and the script exits 1).
# 2. overnight's own podman configuration is written to $OVERNIGHT_CONTAINERS
#    (default ~/.cache/overnight/containers): containers.conf (runtime runc,
#    cgroupfs, no default rlimits, which this kind of host refuses) and
#    storage.conf (storage under that directory, driver overlay when this host
#    mounts an overlay, else vfs, which copies the whole image per container:
#    ~25 s instead of ~1 s here; $OVERNIGHT_STORAGE_DRIVER picks one). Nothing
#    in /etc is changed: the container sandbox points podman at these files
#    through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.
# 3. A Debian root filesystem (python3, git, venv, pip, socat) is made with mmdebstrap
#    and imported as localhost/overnight-base:<hash of this recipe>; its name is
#    written to $OVERNIGHT_CONTAINERS/base-image, the sandbox's default image.
#    /root is opened (0755): a task uid must reach the worker's interpreter and
#    workspaces when they live under the worker's home, as bwrap allows.
#
# Idempotent and cheap when cached: an image that exists is left alone.
set -euo pipefail

SUITE=bookworm
MIRROR=${OVERNIGHT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES="bash,ca-certificates,git,procps,python3,python3-pip,python3-venv,socat"
DIR=${OVERNIGHT_CONTAINERS:-${XDG_CACHE_HOME:-$HOME/.cache}/overnight/containers}

need=""
command -v podman >/dev/null 2>&1 || need="$need podman"
command -v runc >/dev/null 2>&1 || need="$need runc"
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
# --init: the container's pid 1 reaps and forwards signals
[ -x /usr/libexec/podman/catatonit ] || command -v catatonit >/dev/null 2>&1 || need="$need catatonit"
need="${need# }"
if [ -n "$need" ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "container-image: missing: $need" >&2
        echo "container-image: install them as root, e.g.: apt-get install -y $need" >&2
        exit 1
    fi
    echo "container-image: installing: $need"
    export DEBIAN_FRONTEND=noninteractive
    for pkg in $need; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then
            apt-get update -qq
            break
        fi
    done
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# overlay when the kernel mounts one for us (root), else vfs
overlay_works() {
    [ "$(id -u)" -eq 0 ] || return 1
    probe=$(mktemp -d)
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        rm -rf "$probe"
        return 0
    fi
    rm -rf "$probe"
    return 1
}
DRIVER=${OVERNIGHT_STORAGE_DRIVER:-}
if [ -z "$DRIVER" ]; then
    if overlay_works; then DRIVER=overlay; else DRIVER=vfs; fi
fi
mkdir -p "$DIR/storage-$DRIVER" "$DIR/run"
cat >"$DIR/containers.conf" <<EOF
# written by overnight's scripts/container-image.sh; read through CONTAINERS_CONF
[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$DIR/storage.conf" <<EOF
# written by overnight's scripts/container-image.sh; read through CONTAINERS_STORAGE_CONF
[storage]
driver = "$DRIVER"
graphroot = "$DIR/storage-$DRIVER"
runroot = "$DIR/run"
EOF
export CONTAINERS_CONF="$DIR/containers.conf" CONTAINERS_STORAGE_CONF="$DIR/storage.conf"

# the recipe's words: change RECIPE when the build below changes
RECIPE=1
recipe="$RECIPE $SUITE $PACKAGES"
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
image="localhost/overnight-base:$tag"
if podman image exists "$image"; then
    echo "container-image: $image is built (storage $DRIVER)"
else
    echo "container-image: building $image (a Debian $SUITE root filesystem; storage $DRIVER)"
    start=$(date +%s)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --customize-hook='chmod 0755 "$1/root"' \
        "$SUITE" "$tmp/rootfs.tar" "$MIRROR"
    podman import --quiet --change 'CMD ["/bin/bash"]' "$tmp/rootfs.tar" "$image" >/dev/null
    echo "container-image: built $image in $(($(date +%s) - start)) s"
fi
echo "$image" >"$DIR/base-image"
