"""The ``coverage`` gate: the tests run the code the change adds.

Line coverage of the changed and added lines of non-test Python files,
measured by coverage.py during the tests gate's own run (the tests run once:
``pytest_run`` loads the ``overnight_coverage`` plugin when this gate is on).
Below the threshold the gate fails and lists the uncovered lines. Advisory by
default; ``[gates.coverage] blocking = true`` makes it a requirement.

Evidence that the change was measured: the tests gate's run (an ``error``
without one, or with the tests gate disabled), the plugin's report (an
``error`` when coverage.py could not be imported or started, or a changed
file has no data), and lines recorded in every changed file the tests
imported (a module imported with no line recorded shows coverage.py was not
measuring: an ``error``, where a file the tests never imported is a fail).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.changes import added_lines, ranges, source_files
from overnight.gates.scope import matches


@dataclass
class CoverageConfig(GateConfig):
    blocking: bool = False
    threshold: float = 80.0  # percent of the changed executable lines the tests must run
    omit: list[str] = field(default_factory=list)  # globs of files not measured
    HINTS: ClassVar[dict[str, str]] = {"omit": '["scripts/**"]'}


def coverage_files(ctx: GateContext) -> list[str] | None:
    """The files to measure in the tests gate's run, or None (gate off, nothing changed)."""
    cfg = ctx.config.gate("coverage", CoverageConfig)
    if not cfg.enabled:
        return None
    files = source_files(ctx.changed, ctx.workspace, ctx.sha)
    files = [p for p in files if not matches(p, cfg.omit)]
    return files or None


def measure_env(tmp: Path, files: list[str]) -> dict[str, str]:
    """Environment for a pytest run measured by the ``overnight_coverage`` plugin, which
    writes its report into ``tmp``."""
    (tmp / "coverage-files.json").write_text(json.dumps(files))
    env = {
        "OVERNIGHT_COVERAGE": str(tmp / "coverage.json"),
        "OVERNIGHT_COVERAGE_FILES": str(tmp / "coverage-files.json"),
    }
    spec = importlib.util.find_spec("coverage")
    if spec is not None and spec.origin:
        shim = tmp / "coverage-shim"
        shim.mkdir(exist_ok=True)
        (shim / "coverage").symlink_to(Path(spec.origin).parent)
        env["OVERNIGHT_COVERAGE_SHIM"] = str(shim)
    return env


def merge(measured: list[dict | None]) -> dict | None:
    """One report from the runs of a suite: a line run by any of them is covered."""
    found = [m for m in measured if m is not None]
    if not found:
        return None
    out: dict[str, Any] = {
        "error": next((m["error"] for m in found if m.get("error")), None),
        "files": {},
    }
    for m in found:
        for name, data in m.get("files", {}).items():
            have = out["files"].setdefault(name, dict(data))
            if "executed" in have and "executed" in data:
                have["executed"] = sorted(set(have["executed"]) | set(data["executed"]))
    return out


class CoverageGate(BaseGate):
    name = "coverage"
    config_type = CoverageConfig
    needs = ("tests",)

    def check(self, ctx: GateContext) -> GateOutcome:
        cfg = ctx.config.gate(self.name, CoverageConfig)
        command = f"coverage.py during the tests gate's run (threshold {cfg.threshold:g}%)"
        files = coverage_files(ctx)
        if not files:
            return GateOutcome(
                self.name, PASS, "no changed non-test Python code to cover", command=command
            )
        if not ctx.config.gate("tests", GateConfig).enabled:
            return GateOutcome(
                self.name,
                ERROR,
                "coverage is measured by the tests gate, which is disabled",
                command=command,
            )
        suite = ctx.evidence.get("tests")
        if suite is None or not suite.recorded:
            return GateOutcome(
                self.name, ERROR, "the tests gate gave no run to measure", command=command
            )
        if suite.stopped:
            return GateOutcome(
                self.name,
                SKIPPED,
                "not measured: the tests stopped at a failing acceptance test",
                command=command,
            )
        report = suite.coverage
        if report is None or report.get("error"):
            reason = (report or {}).get("error") or "the coverage plugin wrote nothing"
            return GateOutcome(
                self.name, ERROR, f"coverage not measured: {reason}", command=command
            )
        return judge(ctx, cfg, files, report, command)


def judge(
    ctx: GateContext, cfg: CoverageConfig, files: list[str], report: dict, command: str
) -> GateOutcome:
    changed = added_lines(ctx.workspace, ctx.sha, files)
    total = covered = 0
    uncovered: list[tuple[str, list[int]]] = []
    rows = []
    for path in files:
        data = report["files"].get(path, {})
        if "error" in data or "statements" not in data:
            return GateOutcome(
                "coverage",
                ERROR,
                f"{path} not measured: {data.get('error', 'no data')}",
                command=command,
            )
        if data.get("imported") and data["statements"] and not data["executed"]:
            return GateOutcome(
                "coverage",
                ERROR,
                f"coverage.py recorded no line of {path}, which the tests "
                "imported: it was not measuring when that code ran (stopped by sys.settrace, "
                "another coverage or debugging tool, or the module imported before pytest "
                "started); check what the tests run at import",
                command=command,
            )
        lines = set(changed.get(path, {})) & set(data["statements"])
        hit = lines & set(data["executed"])
        total, covered = total + len(lines), covered + len(hit)
        missed = sorted(lines - hit)
        rows.append(
            f"{path}: {len(hit)}/{len(lines)} changed lines run"
            + (f"; not run: {ranges(missed)}" if missed else "")
        )
        if missed:
            uncovered.append((path, missed))
    if not total:
        return GateOutcome(
            "coverage", PASS, "no changed executable lines", command=command, log="\n".join(rows)
        )
    percent = 100.0 * covered / total
    summary = f"{percent:.0f}% of {total} changed line(s) run by the tests"
    if percent + 1e-9 >= cfg.threshold:
        return GateOutcome(
            "coverage",
            PASS,
            f"{summary} (threshold {cfg.threshold:g}%)",
            command=command,
            log="\n".join(rows),
        )
    uncovered.sort(key=lambda item: -len(item[1]))  # most lines first
    shown = []
    for path, missed in uncovered:
        text = changed.get(path, {})
        shown.append(f"- {path}: lines {ranges(missed)}")
        shown += [f"    {n}: {text[n].strip()}" for n in missed[:8]]
    return GateOutcome(
        "coverage",
        FAIL,
        f"{summary}, below the threshold of {cfg.threshold:g}%",
        command=command,
        log="\n".join(rows),
        feedback=f"Only {percent:.0f}% of the changed lines run under the tests (at least "
        f"{cfg.threshold:g}% needed). Add tests that run these lines:\n" + "\n".join(shown),
    )
