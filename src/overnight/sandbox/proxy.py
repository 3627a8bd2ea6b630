"""The model socket: the one way out of a sandbox, for CLI agents that call a model.

On the worker side, ``ModelProxy`` listens on a unix socket in a fresh
directory and forwards each connection to one configured TCP endpoint (the
model server or a local gateway that holds the API keys, e.g.
``127.0.0.1:4000``). The directory is bound into the sandbox at ``/run/overnight``,
which has no network at all; ``forwarder_script`` starts socat there, listening
on ``127.0.0.1:<same port>``, so an agent configured with
``http://127.0.0.1:<port>`` works unchanged inside. Nothing else is reachable:
the proxy forwards bytes to that one endpoint only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from overnight.errors import ConfigError

log = logging.getLogger(__name__)
INSIDE_DIR = "/run/overnight"
SOCKET_NAME = "model.sock"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 1024 <= int(port) <= 65535:
            raise ConfigError(
                f"model endpoint '{text}': write HOST:PORT with a port from 1024 to 65535, "
                "e.g. 127.0.0.1:4000"
            )
        return cls(host.strip("[]"), int(port))

    @property
    def url(self) -> str:
        """The URL an agent uses inside the sandbox."""
        return f"http://127.0.0.1:{self.port}"


class ModelProxy:
    """Unix socket → TCP endpoint, one thread pair per connection; a context manager."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.dir = Path(tempfile.mkdtemp(prefix="overnight-model-"))
        os.chmod(self.dir, 0o755)  # the task's uid must reach the socket
        self.path = self.dir / SOCKET_NAME
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="model-proxy", daemon=True)

    def __enter__(self) -> ModelProxy:
        self._listener.bind(str(self.path))
        os.chmod(self.path, 0o666)
        self._listener.listen(64)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _serve(self) -> None:
        while True:
            try:
                inside, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                outside = socket.create_connection(
                    (self.endpoint.host, self.endpoint.port), timeout=10
                )
                outside.settimeout(None)
            except OSError as exc:
                log.warning("model proxy: cannot reach %s: %s", self.endpoint, exc)
                _close(inside)
                continue
            with self._lock:
                self._open |= {inside, outside}
            done = threading.Barrier(2, action=partial(self._forget, inside, outside))
            for src, dst in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pump, args=(src, dst, done), daemon=True).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._open.discard(sock)
                _close(sock)


def _pump(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
    """Copy one direction; pass the half-close on; both directions done: close the pair."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        _close(src)
        _close(dst)
    with contextlib.suppress(threading.BrokenBarrierError):
        done.wait(timeout=600)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def forwarder_script(endpoint: Endpoint) -> str:
    """Bash run inside the sandbox before the command: socat on loopback, then wait for it.

    The command itself is ``$1``; readiness is read from /proc/net/tcp (a test
    connection would reach the model server)."""
    port = endpoint.port
    listening = f"0100007F:{port:04X} 00000000:0000 0A"
    inside = shlex.quote(f"{INSIDE_DIR}/{SOCKET_NAME}")
    return "\n".join(
        [
            "command -v socat >/dev/null || "
            "{ echo '[overnight: socat is missing: apt-get install socat]'; exit 127; }",
            f"socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:{inside} "
            "</dev/null >/dev/null 2>&1 &",
            "for _ in $(seq 500); do",
            f"  grep -q '{listening}' /proc/net/tcp && break; sleep 0.01",
            "done",
            'exec bash -c "$1"',
        ]
    )
