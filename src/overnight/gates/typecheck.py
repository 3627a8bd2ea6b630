"""The ``types`` gate: type errors new relative to the base, in changed files.

``[gates.types] command`` names the checker (``mypy src``, ``pyright``); without
one the gate is skipped. The command runs on the base (in the baseline step)
and on the candidate; errors are compared as a multiset of (file, message)
without line numbers, like lint findings, and only errors in files the change
touched count.

Evidence that the checker ran on the change (``evidence.py``): it started and
finished (not missing, exit 126/127, killed or timed out), did not fail (exit
2 and more, "no files to check"), and an exit 1 comes with errors in a known
format. mypy also lists the modules it checked (``--linecount-report``): a
changed file neither listed nor given an error, under a mypy configuration
the change edits, is an ``error``; left out by the project's own command or
configuration (the base's), it is named in the summary.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.evidence import configures, not_run, present, tail
from overnight.sandbox import Access

_MYPY = re.compile(r"^(?P<file>[^\s:][^:]*):\d+(?::\d+)?(?::\d+:\d+)?: error: (?P<msg>.*)$")
_PYRIGHT = re.compile(r"^\s*(?P<file>/[^:]+|[^\s:][^:]*):\d+:\d+ - error: (?P<msg>.*)$")
# mypy exits 2 on these; pyright's "No source files found" is said on its own
NO_FILES = re.compile(r"There are no \.py\[i\] files|No source files found|No files to check")


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
    sources: set[str] | None = None  # the modules mypy checked (None: not told)


class TypesGate(BaseGate):
    name = "types"
    config_type = TypesConfig

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
            return GateOutcome(
                self.name, SKIPPED, "no type checker configured ([gates.types] command)"
            )
        base = ctx.baseline.gates.get(self.name)
        run = check_types(ctx, command)
        log = f"$ {run.command}\n{run.output}\n[exit {run.exit_code}]"
        if run.problem or base is None or base.get("problem"):
            reason = run.problem or (base or {}).get("problem") or "not measured on the base"
            where = "" if run.problem else "on the base: "
            return GateOutcome(
                self.name,
                ERROR,
                f"type checker could not run: {where}{reason}",
                command=run.command,
                exit_code=run.exit_code,
                log=log,
            )
        changed = {p for p in ctx.changed if p.endswith((".py", ".pyi")) and p in ctx.tracked()}
        unchecked = self._unchecked(ctx, run)
        steering = configures(ctx, "mypy") if unchecked else []
        if steering:
            files = ", ".join(unchecked[:5])
            return GateOutcome(
                self.name,
                ERROR,
                f"{len(unchecked)} changed file(s) not type checked under "
                f"the configuration the change edits ({', '.join(steering)}): {files}",
                command=run.command,
                exit_code=run.exit_code,
                log=log,
                feedback=f"The type checker did not check {files}: your change to "
                f"{', '.join(steering)} leaves them out. Revert that part of the "
                "configuration so the files you changed are checked.",
            )
        note = (
            (
                f"; not checked, by the project's own command or configuration: "
                f"{', '.join(unchecked[:5])}"
            )
            if unchecked
            else ""
        )
        ours = Counter(k for k in run.errors if k.split(": ", 1)[0] in changed)
        theirs = Counter(k for k in base["errors"] if k.split(": ", 1)[0] in changed)
        new = list((ours - theirs).elements())
        if new:
            lines = [run.shown[k] for k in new]
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(new)} new type error(s): {lines[0]}{note}",
                command=run.command,
                exit_code=run.exit_code,
                log=log,
                feedback="New type errors in the files you changed (fix them):\n"
                + "\n".join(f"- {line}" for line in lines[:30]),
            )
        return GateOutcome(
            self.name,
            PASS,
            f"no new type errors in {len(changed) - len(unchecked)} changed file(s) "
            f"({len(run.errors)} on the candidate overall){note}",
            command=run.command,
            exit_code=run.exit_code,
            log=log,
        )

    @staticmethod
    def _unchecked(ctx: GateContext, run: TypeRun) -> list[str]:
        """The changed Python files mypy neither listed as checked nor reported an error in
        ([] for other checkers, which do not say what they checked)."""
        if run.sources is None:
            return []
        reported = {k.split(": ", 1)[0] for k in run.errors}
        return [
            p
            for p in present(ctx, (".py", ".pyi"))
            if p not in reported and not checked(p, run.sources)
        ]

    def _command(self, ctx: GateContext) -> str | None:
        cfg = ctx.config.gate(self.name, TypesConfig)
        return cfg.command


def check_types(ctx: GateContext, command: str) -> TypeRun:
    """Run the checker in the workspace; mypy's cache sits beside it, outside the tree,
    and mypy also lists the modules it checked (``--linecount-report``)."""
    env = dict(ctx.environ)
    words = shlex.split(command)
    is_mypy = bool(words) and (words[0] == "mypy" or words[:3] == ["python", "-m", "mypy"])
    if is_mypy and env.get("VIRTUAL_ENV") and "--python-executable" not in command:
        # the project's packages, not the ones of the Python mypy runs on
        command += f" --python-executable {shlex.quote(env['VIRTUAL_ENV'] + '/bin/python')}"
    cache = ctx.path.with_name(f"{ctx.path.name}-mypy-cache")  # warm from the base's run
    cache.mkdir(exist_ok=True)
    env["MYPY_CACHE_DIR"] = str(cache)
    with tempfile.TemporaryDirectory(prefix="types-", dir=ctx.path.parent) as tmp:
        report = Path(tmp)
        report.chmod(0o755)
        run_command = f"{command} --linecount-report {shlex.quote(tmp)}" if is_mypy else command
        access = Access(writable=(cache, report))
        done = ctx.sandbox.run(
            run_command,
            cwd=ctx.path,
            env=env,
            timeout=ctx.timeout,
            cancel=ctx.cancel,
            access=access,
        )
        listed = report / "linecount.txt"
        sources = modules(listed.read_text()) if listed.is_file() else None
    run = TypeRun(command, output=done.output, exit_code=done.exit_code)
    run.problem = not_run(done, "the type checker")
    if run.problem is None and done.exit_code > 1:
        run.problem = f"the checker failed (exit {done.exit_code}): {tail(done.output)}"
    elif run.problem is None and NO_FILES.search(done.output):
        run.problem = f"the checker found no files to check: {tail(done.output)}"
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
    if is_mypy and not run.problem:
        if sources is None:
            run.problem = "mypy wrote no list of the modules it checked (--linecount-report)"
        run.sources = sources
    return run


def modules(report: str) -> set[str]:
    """The modules in mypy's linecount report (one per line, after four counts)."""
    names = {line.split()[-1] for line in report.splitlines() if len(line.split()) == 5}
    return names - {"total"}


def checked(path: str, sources: set[str]) -> bool:
    """Whether mypy checked a file: a module it lists is the file's dotted path or ends it
    (``src/pkg/mod.py`` is ``pkg.mod`` when ``src`` is not a package)."""
    dotted = path.rsplit(".", 1)[0].replace("/", ".").removesuffix(".__init__")
    return any(dotted == m or dotted.endswith("." + m) for m in sources)
