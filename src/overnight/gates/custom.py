"""Custom command gates: ``[gates.command.NAME]`` with a ``command`` that must
exit 0 on the candidate, blocking or advisory like any gate.

    [gates.command.docs-build]
    command = "mkdocs build --strict"
    blocking = false

A command that did not run is an ``error``, never a pass: a blank command, a
program not found or not executable (exit 127, 126), or a command stopped by
its time limit, a cancel or a sandbox limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, BaseGate, GateContext, GateOutcome
from overnight.gates.evidence import not_run
from overnight.text import trim


@dataclass
class CommandConfig(GateConfig):
    group: ClassVar[str] = "command"  # [gates.command.NAME]
    command: str = ""
    timeout_minutes: float | None = None  # default: the project's timeout_minutes


class CommandGate(BaseGate):
    needs = ("tests",)  # never beside the tests gate's canaries in the tree
    config_type = CommandConfig

    def __init__(self, name: str, config: CommandConfig) -> None:
        self.name, self.config = name, config

    def check(self, ctx: GateContext) -> GateOutcome:
        start = time.monotonic()
        timeout = ctx.timeout
        if self.config.timeout_minutes:
            timeout = min(timeout, self.config.timeout_minutes * 60)
        command = self.config.command
        if not command.strip():
            blank = f"[gates.command.{self.name}] has a blank command: it checks nothing"
            return GateOutcome(self.name, ERROR, f"{blank}; give it one", command=command)
        done = ctx.sandbox.run(
            command, cwd=ctx.path, env=ctx.environ, timeout=timeout, cancel=ctx.cancel
        )
        log = f"$ {command}\n{done.output}\n[exit {done.exit_code}, {done.duration:.1f} s]"
        duration = time.monotonic() - start
        problem = not_run(done, f"`{command}`")
        if problem:
            return GateOutcome(
                self.name,
                ERROR,
                problem,
                command=command,
                exit_code=done.exit_code,
                duration=duration,
                log=log,
            )
        if done.exit_code != 0:
            last = (done.output.strip().splitlines() or [""])[-1][:160]
            return GateOutcome(
                self.name,
                FAIL,
                f"`{command}` exited {done.exit_code}: {last}",
                command=command,
                exit_code=done.exit_code,
                duration=duration,
                log=log,
                feedback=f"`{command}` exited {done.exit_code}:\n{trim(done.output, 2000)}",
            )
        return GateOutcome(
            self.name,
            PASS,
            f"`{command}` exited 0",
            command=command,
            exit_code=0,
            duration=duration,
            log=log,
        )
