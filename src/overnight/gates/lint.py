"""The ``lint`` gate: findings new relative to the base only.

Findings are compared as a multiset of (file, rule, message), without line
numbers, so code that merely moves does not count as new. ruff gets JSON
output; any other linter's ``path:line:col: message`` lines are compared with
the numbers taken out.

Evidence that the linter ran on the change (``evidence.py``): it started and
finished (not missing, exit 126/127, killed or timed out), did not crash, and
printed what can be read (ruff's JSON with no path it could not read; for any
other linter, a non-zero exit comes with at least one finding). ruff also says
which files it lints (``--show-files``): a changed Python file left out under
a lint configuration the change edits is an ``error``; left out by the
project's own ``lint_cmd`` or configuration (the base's), it is named in the
summary and the verdict stands.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.evidence import configures, crashed, not_run, present, tail
from overnight.sandbox import Sandbox
from overnight.text import trim

_LOCATION = re.compile(r"^(?P<file>[^\s:]+):\d+(?::\d+)?:?\s*(?P<rest>.*)$")
IO_ERROR = "E902"  # ruff could not read a path it was given


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
    tracked: set[str] | None = None,
) -> LintRun:
    """The linter on ``workspace``; ``error`` says why its run is no evidence (it did not
    start or finish, crashed, or printed what cannot be read). With ``tracked``, only
    what it says about those files counts (the graded commit's: not the canaries the
    tests gate plants beside them, nor what tests leave behind)."""
    ruff = is_ruff(lint_cmd)
    command = f"{lint_cmd} --output-format=json --exit-zero" if ruff else lint_cmd
    done = sandbox.run(command, cwd=workspace, env=environ, timeout=timeout, cancel=cancel)
    run = LintRun(command, [], {}, done.output, done.exit_code, done.duration)
    run.error = not_run(done, "the linter")
    if run.error is None:
        read = _read_ruff if ruff else _read_lines
        run.error = read(run, workspace, tracked)
    if run.error is not None:
        run.findings, run.shown = [], {}
    return run


def is_ruff(lint_cmd: str) -> bool:
    return lint_cmd.split()[0] == "ruff" or " ruff " in f" {lint_cmd} "


def _read_ruff(run: LintRun, workspace: Path, tracked: set[str] | None) -> str | None:
    """ruff's JSON findings into ``run``; an error when ruff failed or could not read a file."""
    output = run.output
    try:
        items = json.loads(output[output.index("[") :]) if run.exit_code == 0 else None
    except ValueError:
        items = None
    if not isinstance(items, list):
        return f"ruff failed (exit {run.exit_code}): {trim(output, 300)}"
    for item in items:
        filename = item["filename"]
        rel = _relative(filename, workspace)
        if tracked is not None and rel not in tracked:
            continue
        if item.get("code") == IO_ERROR:
            return f"ruff could not read {rel}: {item['message']}; check lint_cmd's paths"
        key = f"{rel}: {item.get('code')} {item['message']}"
        run.findings.append(key)
        row = item.get("location", {}).get("row", "?")
        run.shown[key] = f"{rel}:{row}: {item.get('code')} {item['message']}"
    return None


def _read_lines(run: LintRun, workspace: Path, tracked: set[str] | None) -> str | None:
    """Any other linter's ``path:line:col: message`` lines into ``run``; an error when it
    crashed, or exited non-zero without one such line (it reported nothing readable)."""
    crash = crashed(run.output)
    if crash:
        return f"the linter crashed (exit {run.exit_code}): {crash}"
    matched = 0
    for line in run.output.splitlines():
        m = _LOCATION.match(line.strip())
        if m:
            matched += 1
            rel = _relative(m["file"], workspace)
            if tracked is not None and rel not in tracked:
                continue
            key = f"{rel}: {m['rest']}"
            run.findings.append(key)
            run.shown[key] = line.strip()
    if run.exit_code != 0 and not matched:
        return (
            f"the linter exited {run.exit_code} without one finding in 'path:line: "
            f"message' form: {tail(run.output)}"
        )
    return None


def linted_files(ctx: GateContext, lint_cmd: str) -> tuple[set[str] | None, str]:
    """The files ruff lints with this command and the candidate's configuration
    (``--show-files``), relative to the workspace, and the log; None: it could not say."""
    command = f"{lint_cmd} --show-files"
    done = ctx.sandbox.run(
        command, cwd=ctx.path, env=ctx.environ, timeout=ctx.timeout, cancel=ctx.cancel
    )
    log = f"$ {command}\n{done.output}\n[exit {done.exit_code}]"
    if not done.ok:
        return None, log
    root = Path(os.path.abspath(ctx.path))
    files = set()
    for line in done.output.splitlines():
        path = Path(line.strip())
        if path.is_absolute():
            files.add(_relative(str(path), root))
    return files, log


def _relative(name: str, workspace: Path) -> str:
    """A finding's file relative to the workspace, judged on the path as written (a symlink
    may point anywhere: never resolve it)."""
    if not os.path.isabs(name):
        return name
    for root in (str(workspace), os.path.realpath(workspace)):
        if name.startswith(root.rstrip("/") + "/"):
            return name[len(root.rstrip("/")) + 1 :]
    return name


class LintGate(BaseGate):
    name = "lint"

    def check(self, ctx: GateContext) -> GateOutcome:
        lint_cmd = ctx.config.lint_cmd
        if not lint_cmd:
            return GateOutcome(self.name, SKIPPED, "no lint_cmd configured")
        run = run_lint(
            ctx.sandbox, ctx.path, ctx.environ, lint_cmd, ctx.timeout, ctx.cancel, ctx.tracked()
        )

        def outcome(verdict: str, summary: str, log: str, feedback: str = "") -> GateOutcome:
            return GateOutcome(
                self.name,
                verdict,
                summary,
                command=run.command,
                log=log,
                exit_code=run.exit_code,
                duration=run.duration,
                feedback=feedback,
            )

        if run.error or ctx.baseline.lint_error:
            reason = run.error or f"on the base: {ctx.baseline.lint_error}"
            return outcome(ERROR, f"linter could not run: {reason}", run.output)
        unlinted, listing = self._unlinted(ctx, lint_cmd)
        log = "\n\n".join(p for p in (run.output, listing) if p)
        if unlinted is None:
            return outcome(
                ERROR,
                "could not tell which files ruff lints: "
                f"'{lint_cmd} --show-files' failed; check lint_cmd",
                log,
            )
        steering = configures(ctx, "ruff") if unlinted else []
        if steering:
            files = ", ".join(unlinted[:5])
            return outcome(
                ERROR,
                f"{len(unlinted)} changed file(s) not linted under the lint "
                f"configuration the change edits ({', '.join(steering)}): {files}",
                log,
                feedback=f"The linter did not lint {files}: your change to "
                f"{', '.join(steering)} excludes them. Revert that part of the lint "
                "configuration so the files you changed are linted.",
            )
        note = (
            (
                f"; not linted, by the project's own lint_cmd or configuration: "
                f"{', '.join(unlinted[:5])}"
            )
            if unlinted
            else ""
        )
        new = Counter(run.findings) - Counter(ctx.baseline.lint)
        if new:
            lines = [run.shown[k] for k in new.elements()]
            return outcome(
                FAIL,
                f"{len(lines)} new finding(s): {lines[0]}{note}",
                log,
                feedback="New lint findings (fix them):\n"
                + "\n".join(f"- {line}" for line in lines[:30]),
            )
        return outcome(
            PASS,
            f"no new findings ({len(run.findings)} on the candidate, all "
            f"present on the base){note}",
            log,
        )

    @staticmethod
    def _unlinted(ctx: GateContext, lint_cmd: str) -> tuple[list[str] | None, str]:
        """The changed Python files the linter left out ([] when it cannot tell: a linter
        other than ruff), or None when ruff could not list its files."""
        changed = present(ctx, (".py", ".pyi"))
        if not changed or not is_ruff(lint_cmd):
            return [], ""
        linted, log = linted_files(ctx, lint_cmd)
        if linted is None:
            return None, log
        return [p for p in changed if p not in linted], log
