"""Supervising one sandbox process: output, wall time, cancellation.

``supervise`` starts the process in a new session with its output (stdout and
stderr together) read on a thread (and handed to ``on_output`` as it comes,
when given), and calls ``stop`` when the wall time runs out or the task is
cancelled; the backend's ``stop`` is what makes sure every
process of the command dies (a cgroup, a pid namespace, a container).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUTPUT_LIMIT = 4_000_000  # bytes kept of one command's output


@dataclass
class Exit:
    returncode: int
    output: str
    duration: float
    timed_out: bool = False
    cancelled: bool = False
    pid: int = 0  # also the id of the process group it led


def supervise(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path | str,
    timeout: float,
    cancel: threading.Event | None,
    stop: Callable[[subprocess.Popen[bytes]], None],
    on_output: Callable[[str], None] | None = None,
) -> Exit:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc, chunks, on_output), daemon=True)
    reader.start()
    outcome: dict[str, bool] = {}
    finished = threading.Event()

    def watch() -> None:  # the main thread blocks in wait(): no polling delay at exit
        while not finished.wait(0.02):
            if time.monotonic() - start > timeout:
                outcome["timed_out"] = True
            elif cancel is not None and cancel.is_set():
                outcome["cancelled"] = True
            else:
                continue
            stop(proc)
            return

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    try:
        proc.wait()
    finally:
        finished.set()
        if proc.poll() is None:  # interrupted (KeyboardInterrupt, a bug): leave nothing behind
            stop(proc)
            proc.wait()
        watchdog.join()
    timed_out, cancelled = outcome.get("timed_out", False), outcome.get("cancelled", False)
    reader.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    output = b"".join(chunks).decode("utf-8", "replace")
    return Exit(proc.returncode, output, time.monotonic() - start, timed_out, cancelled, proc.pid)


def kill_session(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group the process leads (it was started in its own session)."""
    kill_group(proc.pid)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _drain(
    proc: subprocess.Popen[bytes],
    chunks: list[bytes],
    on_output: Callable[[str], None] | None = None,
) -> None:
    stream = proc.stdout
    assert stream is not None
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character split by a read
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        if size < OUTPUT_LIMIT:
            chunks.append(chunk)
            if on_output is not None:
                on_output(decoder.decode(chunk))
        size += len(chunk)
    if on_output is not None:
        on_output(decoder.decode(b"", final=True))
    if size > OUTPUT_LIMIT:
        chunks.append(f"\n[overnight: {size - OUTPUT_LIMIT} bytes of output dropped]".encode())
