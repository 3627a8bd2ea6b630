"""The ``types`` gate: type errors new relative to the base, in changed files.

``[gates.types] command`` names the checker (``mypy src``, ``pyright``); without
one the gate is skipped. The command runs on the base (in the baseline step)
and on the candidate; errors are compared as a multiset of (file, message)
without line numbers, like lint findings, and only errors in files the change
touched count. A checker that crashes, or cannot be found, is an error.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, SKIPPED, GateContext, GateOutcome
from overnight.sandbox import Access

_MYPY = re.compile(r"^(?P<file>[^\s:][^:]*):\d+(?::\d+)?(?::\d+:\d+)?: error: (?P<msg>.*)$")
_PYRIGHT = re.compile(r"^\s*(?P<file>/[^:]+|[^\s:][^:]*):\d+:\d+ - error: (?P<msg>.*)$")


@dataclass
class TypesConfig(GateConfig):
    command: str | None = None  # "mypy src", "pyright"; None: the gate is skipped
    HINTS: ClassVar[dict[str, str]] = {"command": '"mypy ."'}


@dataclass
class TypeRun:
    command: str
    errors: list[str] = field(default_factory=list)  # keys: "file: message"
    shown: dict[str, str] = field(default_factory=dict)  # key -> line as printed
    output: str = ""
    exit_code: int = 0
    problem: str | None = None  # the checker did not run properly


class TypesGate:
    name = "types"

    def measure(self, ctx: GateContext) -> tuple[dict[str, Any] | None, str]:
        command = self._command(ctx)
        if command is None:
            return None, ""
        run = check_types(ctx, command)
        return {"errors": run.errors, "problem": run.problem}, (
            f"$ {run.command}\n{run.output}\n[exit {run.exit_code}]"
        )

    def check(self, ctx: GateContext) -> GateOutcome:
        command = self._command(ctx)
        if command is None:
            return GateOutcome(self.name, SKIPPED, "no type checker configured "
                               "([gates.types] command)")  # fmt: skip
        base = ctx.baseline.gates.get(self.name)
        run = check_types(ctx, command)
        log = f"$ {run.command}\n{run.output}\n[exit {run.exit_code}]"
        if run.problem or base is None or base.get("problem"):
            reason = run.problem or (base or {}).get("problem") or "not measured on the base"
            where = "" if run.problem else "on the base: "
            return GateOutcome(self.name, ERROR, f"type checker could not run: {where}{reason}",
                               command=run.command, exit_code=run.exit_code, log=log)  # fmt: skip
        changed = {p for p in ctx.changed if p.endswith((".py", ".pyi")) and p in ctx.tracked()}
        ours = Counter(k for k in run.errors if k.split(": ", 1)[0] in changed)
        theirs = Counter(k for k in base["errors"] if k.split(": ", 1)[0] in changed)
        new = list((ours - theirs).elements())
        if new:
            lines = [run.shown[k] for k in new]
            return GateOutcome(
                self.name, FAIL, f"{len(new)} new type error(s): {lines[0]}",
                command=run.command, exit_code=run.exit_code, log=log,
                feedback="New type errors in the files you changed (fix them):\n"
                + "\n".join(f"- {line}" for line in lines[:30]),
            )  # fmt: skip
        return GateOutcome(
            self.name, PASS,
            f"no new type errors in {len(changed)} changed file(s) "
            f"({len(run.errors)} on the candidate overall)",
            command=run.command, exit_code=run.exit_code, log=log,
        )  # fmt: skip

    def _command(self, ctx: GateContext) -> str | None:
        cfg = ctx.config.gate(self.name)
        assert isinstance(cfg, TypesConfig)
        return cfg.command


def check_types(ctx: GateContext, command: str) -> TypeRun:
    """Run the checker in the workspace; mypy's cache sits beside it, outside the tree."""
    env = dict(ctx.environ)
    words = shlex.split(command)
    is_mypy = bool(words) and (words[0] == "mypy" or words[:3] == ["python", "-m", "mypy"])
    if is_mypy and env.get("VIRTUAL_ENV") and "--python-executable" not in command:
        # the project's packages, not the ones of the Python mypy runs on
        command += f" --python-executable {shlex.quote(env['VIRTUAL_ENV'] + '/bin/python')}"
    cache = ctx.path.with_name(f"{ctx.path.name}-mypy-cache")  # warm from the base's run
    cache.mkdir(exist_ok=True)
    env["MYPY_CACHE_DIR"] = str(cache)
    done = ctx.sandbox.run(command, cwd=ctx.path, env=env, timeout=ctx.timeout,
                           cancel=ctx.cancel, access=Access(writable=(cache,)))  # fmt: skip
    run = TypeRun(command, output=done.output, exit_code=done.exit_code)
    if done.timed_out or done.cancelled:
        run.problem = "the checker did not finish"
    elif done.exit_code in (126, 127):
        run.problem = f"'{words[0] if words else command}' not found (exit {done.exit_code})"
    elif done.exit_code > 1:
        tail = (done.output.strip().splitlines() or ["no output"])[-1][:200]
        run.problem = f"the checker failed (exit {done.exit_code}): {tail}"
    roots = (str(ctx.path.resolve()) + "/", str(ctx.path) + "/")
    for line in done.output.splitlines():
        m = _MYPY.match(line) or _PYRIGHT.match(line)
        if not m:
            continue
        path = m["file"].strip()
        root = next((r for r in roots if path.startswith(r)), "")
        path = path[len(root) :]
        key = f"{path}: {re.sub(r'  +', ' ', m['msg'].strip())}"
        run.errors.append(key)
        run.shown[key] = line.strip()
    if done.exit_code == 1 and not run.errors and not run.problem:
        run.problem = "the checker exited 1 without errors in a known format (mypy, pyright)"
    return run
