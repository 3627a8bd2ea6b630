"""The worker's end of the outcome channel: a unix socket that accepts one connection.

overnight's pytest plugin connects when pytest imports it, before any code of
the project runs; the listener then closes and its path is removed, so nothing
started later (the code under test) can open a second channel or replace the
first. Records arrive one JSON object per line; ``Outcomes`` keeps, per node,
the worst outcome reported, so a later forged record cannot undo a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "failed": 3, "error": 4}
MAX_BYTES = 64 * 1024 * 1024  # what one run may send; the rest is dropped


@dataclass
class Outcomes:
    """What the plugin reported: per-node outcomes (worst kept), collection errors."""

    connected: bool = False
    finished: bool = False
    outcomes: dict[str, dict] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    exitstatus: int | None = None
    imported: dict[str, str | None] = field(default_factory=dict)
    dropped: int = 0  # bytes over MAX_BYTES, or lines that were not records

    def add(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "outcome":
            node, outcome = str(record.get("node")), record.get("outcome")
            if outcome not in RANK:
                self.dropped += 1
                return
            have = self.outcomes.get(node)
            if have is None or RANK[outcome] > RANK[have["outcome"]]:
                self.outcomes[node] = {
                    "outcome": outcome,
                    "message": str(record.get("message", ""))[:1000],
                    "text": str(record.get("text", ""))[:4000],
                }
        elif kind == "collect_error":
            self.collect_errors[str(record.get("node"))] = str(record.get("text", ""))[:4000]
        elif kind == "finish" and not self.finished:
            self.finished = True
            self.stopped = bool(record.get("stopped"))
            status = record.get("exitstatus")
            self.exitstatus = status if isinstance(status, int) else None
            imported = record.get("imported")
            if isinstance(imported, dict):
                self.imported = {str(k): (str(v) if v else None) for k, v in imported.items()}
        elif kind == "start":
            self.connected = True


class Channel:
    """Listen for one connection on a socket in a fresh short folder (a unix socket's
    path is limited to about 107 bytes, so never under a deep workspace); read it on a
    thread until it ends or ``close`` is called (after the command, with a moment to
    drain). ``folder`` is what a sandboxed command must be allowed to read."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ovn-"))
        self.folder.chmod(0o711)  # the sandbox's uid may reach the socket, not list the folder
        self.path = self.folder / "s"
        self.result = Outcomes()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        os.chmod(self.path, 0o777)  # the sandbox's uid connects
        self._listener.listen(1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="outcomes")
        self._thread.start()

    def close(self, drain: float = 2.0) -> Outcomes:
        """Stop listening and reading (after ``drain`` seconds at most); the records."""
        deadline = time.monotonic() + drain
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.05)
        self._stop.set()
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.result

    def _serve(self) -> None:
        with contextlib.ExitStack() as stack:
            stack.callback(self._listener.close)
            conn = self._accept()
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # nobody else can connect now
            if conn is None:
                return
            stack.callback(conn.close)
            self._read(conn)

    def _accept(self) -> socket.socket | None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if sel.select(0.05):
                    conn, _ = self._listener.accept()
                    return conn
        return None

    def _read(self, conn: socket.socket) -> None:
        buffer, total = b"", 0
        with selectors.DefaultSelector() as sel:
            sel.register(conn, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not sel.select(0.05):
                    continue
                chunk = conn.recv(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_BYTES:
                    self.result.dropped += len(chunk)
                    continue
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._record(line)
        if buffer and total <= MAX_BYTES:
            self._record(buffer)

    def _record(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            self.result.dropped += 1
            return
        if isinstance(record, dict):
            self.result.add(record)
        else:
            self.result.dropped += 1
