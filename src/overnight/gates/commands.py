"""The ``acceptance-commands`` gate: every ``run:`` command exits 0 on the candidate."""

from __future__ import annotations

import time

from overnight.gates import FAIL, PASS, SKIPPED, GateContext, GateOutcome
from overnight.gates.feedback import trim


class AcceptanceCommandsGate:
    name = "acceptance-commands"
    needs = ("tests",)  # never beside the tests gate's canaries in the tree

    def check(self, ctx: GateContext) -> GateOutcome:
        commands = ctx.spec.acceptance_commands
        if not commands:
            return GateOutcome(self.name, SKIPPED, "no 'run:' acceptance commands")
        start = time.monotonic()
        log, failed = [], []
        for cmd in commands:
            done = ctx.sandbox.run(
                cmd, cwd=ctx.path, env=ctx.environ, timeout=ctx.timeout, cancel=ctx.cancel
            )
            log.append(f"$ {cmd}\n{done.output}\n[exit {done.exit_code}, {done.duration:.1f} s]")
            if not done.ok:
                failed.append((cmd, done))
        duration = time.monotonic() - start
        if failed:
            feedback = "\n".join(
                f"Command `{cmd}` exited {d.exit_code}:\n{trim(d.output, 1500)}"
                for cmd, d in failed
            )
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(failed)} of {len(commands)} command(s) failed: {failed[0][0]}",
                command=" && ".join(commands),
                exit_code=failed[0][1].exit_code,
                duration=duration,
                log="\n\n".join(log),
                feedback=feedback,
            )
        return GateOutcome(
            self.name,
            PASS,
            f"{len(commands)} command(s) exited 0",
            command=" && ".join(commands),
            exit_code=0,
            duration=duration,
            log="\n\n".join(log),
        )
