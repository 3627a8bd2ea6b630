"""The ``lint`` gate: findings new relative to the base only.

Findings are compared as a multiset of (file, rule, message), without line
numbers, so code that merely moves does not count as new. ruff gets JSON
output; any other linter's ``path:line:col: message`` lines are compared with
the numbers taken out.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, GateContext, GateOutcome
from overnight.gates.feedback import trim
from overnight.sandbox import Sandbox

_LOCATION = re.compile(r"^(?P<file>[^\s:]+):\d+(?::\d+)?:?\s*(?P<rest>.*)$")


@dataclass
class LintRun:
    command: str
    findings: list[str]  # keys
    shown: dict[str, str]  # key -> one line as the linter printed it
    output: str
    exit_code: int
    duration: float
    error: str | None = None


def run_lint(
    sandbox: Sandbox,
    workspace: Path,
    environ: dict[str, str],
    lint_cmd: str,
    timeout: float,
    cancel: threading.Event | None = None,
) -> LintRun:
    is_ruff = lint_cmd.split()[0] == "ruff" or " ruff " in f" {lint_cmd} "
    command = f"{lint_cmd} --output-format=json --exit-zero" if is_ruff else lint_cmd
    done = sandbox.run(command, cwd=workspace, env=environ, timeout=timeout, cancel=cancel)
    if done.timed_out or done.cancelled:
        return LintRun(
            command, [], {}, done.output, done.exit_code, done.duration, "linter did not finish"
        )
    if is_ruff:
        try:
            items = (
                json.loads(done.output[done.output.index("[") :]) if done.exit_code == 0 else None
            )
        except ValueError:
            items = None
        if items is None:
            return LintRun(
                command,
                [],
                {},
                done.output,
                done.exit_code,
                done.duration,
                f"ruff failed (exit {done.exit_code}): {trim(done.output, 300)}",
            )
        findings, shown = [], {}
        for item in items:
            rel = _relative(item["filename"], workspace)
            key = f"{rel}: {item.get('code')} {item['message']}"
            findings.append(key)
            row = item.get("location", {}).get("row", "?")
            shown[key] = f"{rel}:{row}: {item.get('code')} {item['message']}"
        return LintRun(command, findings, shown, done.output, 0, done.duration)
    findings, shown = [], {}
    for line in done.output.splitlines():
        m = _LOCATION.match(line.strip())
        if m:
            key = f"{m['file']}: {m['rest']}"
            findings.append(key)
            shown[key] = line.strip()
    return LintRun(command, findings, shown, done.output, done.exit_code, done.duration)


def _relative(name: str, workspace: Path) -> str:
    """A finding's file relative to the workspace, judged on the path as written (a symlink
    may point anywhere: never resolve it)."""
    if not os.path.isabs(name):
        return name
    for root in (str(workspace), os.path.realpath(workspace)):
        if name.startswith(root.rstrip("/") + "/"):
            return name[len(root.rstrip("/")) + 1 :]
    return name


def tracked_only(run: LintRun, tracked: set[str]) -> LintRun:
    """Only findings about files of the graded commit (not canaries or leftovers)."""
    run.findings = [k for k in run.findings if k.split(": ", 1)[0] in tracked]
    return run


class LintGate:
    name = "lint"

    def check(self, ctx: GateContext) -> GateOutcome:
        if not ctx.config.lint_cmd:
            return GateOutcome(self.name, SKIPPED, "no lint_cmd configured")
        run = tracked_only(run_lint(
            ctx.sandbox, ctx.path, ctx.environ, ctx.config.lint_cmd, ctx.timeout, ctx.cancel
        ), ctx.tracked())  # fmt: skip
        if run.error or ctx.baseline.lint_error:
            reason = run.error or f"on the base: {ctx.baseline.lint_error}"
            return GateOutcome(
                self.name,
                ERROR,
                f"linter could not run: {reason}",
                command=run.command,
                exit_code=run.exit_code,
                duration=run.duration,
                log=run.output,
            )
        new = Counter(run.findings) - Counter(ctx.baseline.lint)
        if new:
            lines = [run.shown[k] for k in new.elements()]
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(lines)} new finding(s): {lines[0]}",
                command=run.command,
                exit_code=run.exit_code,
                duration=run.duration,
                log=run.output,
                feedback="New lint findings (fix them):\n"
                + "\n".join(f"- {line}" for line in lines[:30]),
            )
        return GateOutcome(
            self.name,
            PASS,
            f"no new findings ({len(run.findings)} on the candidate, all present on the base)",
            command=run.command,
            exit_code=run.exit_code,
            duration=run.duration,
            log=run.output,
        )
