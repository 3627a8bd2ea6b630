"""Running the app: in the foreground (``overnight serve``) or on a thread
(``overnight up``, tests, benchmarks), always with uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from fastapi import FastAPI

from overnight.errors import UsageError

GRACE_SECONDS = 2  # open event streams are closed after this on shutdown


class Server(uvicorn.Server):
    """uvicorn's server, which first ends the event streams when told to stop."""

    def __init__(self, app: FastAPI, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.hub = app.state.hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.shutdown()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        self.hub.shutdown()
        self.should_exit = True


def server(app: FastAPI, host: str, port: int, log_level: str = "warning") -> Server:
    return Server(
        app,
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=log_level in ("info", "debug"),
            timeout_graceful_shutdown=GRACE_SECONDS,
            lifespan="on",
        ),
    )


def serve(app: FastAPI, host: str, port: int, log_level: str = "warning") -> None:
    """Serve until Ctrl-C / SIGTERM."""
    check_port(host, port)
    server(app, host, port, log_level).run()


@contextmanager
def background(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve on a thread while the block runs; yields the base URL. Port 0
    picks a free port."""
    port = port or free_port(host)
    srv = server(app, host, port)
    thread = threading.Thread(target=srv.run, name="overnight-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UsageError(f"the web server could not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        srv.stop()
        thread.join(GRACE_SECONDS + 5)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pick another with --port"
            ) from exc
