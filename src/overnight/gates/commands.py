"""The ``acceptance-commands`` gate: every ``run:`` command exits 0 on the candidate.

A command that exits non-zero fails the gate. One that did not run is no
evidence either way, so the gate is an ``error`` when none failed: an empty
command, one whose program was not found or is not executable (exit 127,
126), or one stopped by the time limit, a cancel or a sandbox limit. The
baseline step ran the same commands on the base; when one could not start
there either, the summary says the environment lacks it.
"""

from __future__ import annotations

import time

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.evidence import NOT_EXECUTABLE, NOT_FOUND, not_run
from overnight.text import trim


class AcceptanceCommandsGate(BaseGate):
    name = "acceptance-commands"
    needs = ("tests",)  # never beside the tests gate's canaries in the tree

    def check(self, ctx: GateContext) -> GateOutcome:
        commands = ctx.spec.acceptance_commands
        if not commands:
            return GateOutcome(self.name, SKIPPED, "no 'run:' acceptance commands")
        start = time.monotonic()
        log, failed, unrun = [], [], []
        for cmd in commands:
            if not cmd.strip():
                unrun.append((cmd, "an empty `run:` command checks nothing: fix the spec"))
                continue
            done = ctx.sandbox.run(
                cmd, cwd=ctx.path, env=ctx.environ, timeout=ctx.timeout, cancel=ctx.cancel
            )
            log.append(f"$ {cmd}\n{done.output}\n[exit {done.exit_code}, {done.duration:.1f} s]")
            problem = not_run(done, f"`{cmd}`")
            if problem:
                unrun.append((cmd, problem + on_base(ctx, cmd)))
            elif not done.ok:
                failed.append((cmd, done))
        command, duration = " && ".join(commands), time.monotonic() - start
        text = "\n\n".join(log)
        if failed:
            feedback = "\n".join(
                f"Command `{cmd}` exited {d.exit_code}:\n{trim(d.output, 1500)}"
                for cmd, d in failed
            )
            feedback += "".join(f"\nNot run: {problem}" for _, problem in unrun)
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(failed)} of {len(commands)} command(s) failed: {failed[0][0]}",
                command=command,
                exit_code=failed[0][1].exit_code,
                duration=duration,
                log=text,
                feedback=feedback,
            )
        if unrun:
            more = f" (and {len(unrun) - 1} more)" if len(unrun) > 1 else ""
            return GateOutcome(
                self.name,
                ERROR,
                f"did not run: {unrun[0][1]}{more}",
                feedback="These acceptance commands did not run, so they prove nothing; if "
                "the task asks you to create what they run, make sure it exists and is "
                "executable:\n" + "\n".join(f"- {problem}" for _, problem in unrun),
                command=command,
                duration=duration,
                log=text,
            )
        return GateOutcome(
            self.name,
            PASS,
            f"{len(commands)} command(s) exited 0",
            command=command,
            exit_code=0,
            duration=duration,
            log=text,
        )


def on_base(ctx: GateContext, cmd: str) -> str:
    """What the baseline step saw when the same command could not start on the base."""
    if ctx.baseline.commands.get(cmd) in (NOT_FOUND, NOT_EXECUTABLE):
        return " (the same on the base: the environment lacks it)"
    return ""
