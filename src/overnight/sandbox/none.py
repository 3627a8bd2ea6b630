"""The ``none`` sandbox: a plain subprocess in a new session, killed as a group.

No isolation at all: allowed only when configured by name, and every run logs
a warning. ``access`` is ignored (everything is reachable anyway).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from overnight.sandbox import Access, Completed

log = logging.getLogger(__name__)
OUTPUT_LIMIT = 4_000_000  # characters kept of one command's output


class NoSandbox:
    name = "none"

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        cancel: threading.Event | None = None,
        access: Access | None = None,
    ) -> Completed:
        log.warning("sandbox 'none': running %r unisolated in %s", command[:80], cwd)
        start = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        chunks: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(proc, chunks), daemon=True)
        reader.start()
        timed_out = cancelled = False
        while True:
            try:  # wait() notices the end within a millisecond; the loop checks limits
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - start > timeout:
                timed_out = True
            elif cancel is not None and cancel.is_set():
                cancelled = True
            else:
                continue
            _kill_group(proc)
            break
        proc.wait()
        _kill_group(proc)  # whatever it left behind in its group
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        output = b"".join(chunks).decode("utf-8", "replace")
        if timed_out:
            output += f"\n[overnight: killed after the {timeout:.0f} s time limit]"
        if cancelled:
            output += "\n[overnight: killed: the task was cancelled]"
        return Completed(
            command,
            proc.returncode if not timed_out else 124,
            output,
            time.monotonic() - start,
            timed_out,
            cancelled,
        )


def _drain(proc: subprocess.Popen[bytes], chunks: list[bytes]) -> None:
    stream = proc.stdout
    assert stream is not None
    size = 0
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        if size < OUTPUT_LIMIT:
            chunks.append(chunk)
        size += len(chunk)
    if size > OUTPUT_LIMIT:
        chunks.append(f"\n[overnight: {size - OUTPUT_LIMIT} bytes of output dropped]".encode())


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        log.warning("could not kill process group %s", proc.pid)
