"""The ``none`` sandbox: a plain subprocess in a new session, killed as a group.

No isolation at all: allowed only when configured by name, and every run logs
a warning. ``access`` is ignored (everything is reachable anyway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from overnight.sandbox import Access, BaseSandbox, Completed, Sandbox
from overnight.sandbox.process import kill_group, kill_session, supervise

log = logging.getLogger(__name__)


class NoSandbox(BaseSandbox):
    name = "none"

    @classmethod
    def build(cls, arg: str, *, model_endpoint: str | None, role: str) -> Sandbox:
        return cls()

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        cancel: threading.Event | None = None,
        access: Access | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> Completed:
        log.warning("sandbox 'none': running %r unisolated in %s", command[:80], cwd)
        done = supervise(
            ["bash", "-c", command],
            env=env,
            cwd=cwd,
            timeout=timeout,
            cancel=cancel,
            stop=kill_session,
            on_output=on_output,
        )
        kill_group(done.pid)  # whatever it left behind in its group
        output = done.output
        if done.timed_out:
            output += f"\n[overnight: killed after the {timeout:.0f} s time limit]"
        if done.cancelled:
            output += "\n[overnight: killed: the task was cancelled]"
        return Completed(
            command,
            124 if done.timed_out else done.returncode,
            output,
            done.duration,
            done.timed_out,
            done.cancelled,
        )
