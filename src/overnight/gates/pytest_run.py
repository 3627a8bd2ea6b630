"""Run the repository's test command and read per-node-id outcomes.

Outcomes come from overnight's pytest plugin, injected through
``PYTEST_ADDOPTS`` and ``PYTHONPATH`` so it works whatever the test command
is, as long as it runs pytest. Exit codes alone are never trusted: if the
plugin wrote nothing, the run is an error.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from overnight.sandbox import Access, Completed, Sandbox

PLUGIN_DIR = Path(__file__).parent / "plugin"
PASSED = "passed"


@dataclass
class TestRun:
    __test__ = False

    command: str
    completed: Completed
    outcomes: dict[str, dict] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)
    recorded: bool = True  # False: the plugin never ran
    stopped: bool = False  # fail-fast: an acceptance test failed and the rest did not run
    coverage: dict | None = None  # with ``coverage=``: file -> statements, executed (coverage.py)

    def outcome(self, node: str) -> str:
        """Outcome of a node id, or of all the items it selects ('missing' if none)."""
        if node in self.outcomes:
            return self.outcomes[node]["outcome"]
        matches = [
            v["outcome"]
            for k, v in self.outcomes.items()
            if k.startswith(node) and k[len(node)] in "[:"
        ]
        if not matches:
            return "error" if self._collect_error(node) else "missing"
        worst = ("error", "failed", "xpassed", "skipped", "xfailed")
        return next((o for o in worst if o in matches), PASSED)

    def _collect_error(self, node: str) -> str | None:
        file = node.split("::", 1)[0]
        return next(
            (
                text
                for key, text in self.collect_errors.items()
                if key == file or file.startswith(key.rstrip("/") + "/")
            ),
            None,
        )

    def detail(self, node: str) -> dict:
        if node in self.outcomes:
            return self.outcomes[node]
        error = self._collect_error(node)
        if error:
            lines = [line for line in error.splitlines() if line.startswith("E ")]
            return {
                "message": lines[-1][1:].strip() if lines else "collection error",
                "text": error,
            }
        for key, value in self.outcomes.items():
            if key.startswith(node) and key[len(node)] in "[:" and value["outcome"] != PASSED:
                return value
        return {"message": "", "text": ""}

    def passing(self) -> set[str]:
        return {k for k, v in self.outcomes.items() if v["outcome"] == PASSED}


def run_tests(
    sandbox: Sandbox,
    workspace: Path,
    environ: dict[str, str],
    test_cmd: str,
    select: list[str] | None,
    timeout: float,
    cancel: threading.Event | None = None,
    first: list[str] | None = None,
    fail_fast: bool = False,
    coverage: list[str] | None = None,
) -> TestRun:
    """Run ``test_cmd``; with ``select``, only those node ids (and their files).
    Node ids in ``first`` run before the others; with ``fail_fast`` the run stops
    when one of them fails. With ``coverage`` (files relative to the workspace),
    the run is measured by coverage.py (gates/coverage.py)."""
    with tempfile.TemporaryDirectory(prefix="overnight-tests-") as tmp:
        out = Path(tmp) / "outcomes.json"
        env = dict(environ)
        env["OVERNIGHT_OUTCOMES"] = str(out)
        env["PYTHONPATH"] = ":".join(p for p in (str(PLUGIN_DIR), env.get("PYTHONPATH")) if p)
        env["PYTEST_ADDOPTS"] = " ".join(
            p
            for p in (
                "-p overnight_outcomes -p no:cacheprovider --continue-on-collection-errors",
                env.get("PYTEST_ADDOPTS"),
            )
            if p
        )
        if first:
            (Path(tmp) / "first.json").write_text(json.dumps(first))
            env["OVERNIGHT_FIRST"] = str(Path(tmp) / "first.json")
            env["OVERNIGHT_FAIL_FAST"] = "1" if fail_fast else "0"
        if coverage is not None:
            from overnight.gates.coverage import measure_env

            env.update(measure_env(Path(tmp), coverage, env["PYTEST_ADDOPTS"]))
        command = test_cmd
        if select is not None:
            sel = Path(tmp) / "select.json"
            sel.write_text(json.dumps(select))
            env["OVERNIGHT_SELECT"] = str(sel)
            files = sorted({n.split("::", 1)[0] for n in select})
            files = [f for f in files if (workspace / f).exists()]
            if not files:
                done = Completed(test_cmd, 0, "none of the selected test files exist", 0.0)
                return TestRun(test_cmd, done)
            args = " ".join(shlex.quote(f) for f in files)
            command = (
                test_cmd.replace("{tests}", args) if "{tests}" in test_cmd else f"{test_cmd} {args}"
            )
        else:
            command = test_cmd.replace("{tests}", "")
        done = sandbox.run(
            command,
            cwd=workspace,
            env=env,
            timeout=timeout,
            cancel=cancel,
            access=Access(writable=(Path(tmp),)),  # the outcomes file
        )
        if not out.exists():
            return TestRun(command, done, recorded=False)
        data = json.loads(out.read_text())
        measured = Path(tmp) / "coverage.json"
        return TestRun(command, done, data["outcomes"], data["collect_errors"],
                       stopped=data.get("stopped", False),
                       coverage=json.loads(measured.read_text()) if measured.exists() else None,
                       )  # fmt: skip


@dataclass
class Suite:
    """The acceptance and regression tests of one commit, in as few pytest runs
    as possible (one, unless acceptance tests lie outside the default paths)."""

    runs: list[TestRun]

    @property
    def recorded(self) -> bool:
        return all(r.recorded for r in self.runs)

    @property
    def stopped(self) -> bool:
        return any(r.stopped for r in self.runs)

    def outcome(self, node: str) -> str:
        found = [r.outcome(node) for r in self.runs]
        return next((o for o in reversed(found) if o != "missing"), "missing")

    def detail(self, node: str) -> dict:
        for run in reversed(self.runs):
            if run.outcome(node) != "missing":
                return run.detail(node)
        return {"message": "", "text": ""}

    @property
    def outcomes(self) -> dict[str, dict]:
        merged: dict[str, dict] = {}
        for run in self.runs:
            merged.update(run.outcomes)
        return merged

    @property
    def coverage(self) -> dict | None:
        from overnight.gates.coverage import merge

        return merge([r.coverage for r in self.runs])


def run_suite(
    sandbox: Sandbox,
    workspace: Path,
    environ: dict[str, str],
    test_cmd: str,
    acceptance: list[str],
    regression: str | list[str],
    timeout: float,
    cancel: threading.Event | None = None,
    fail_fast: bool = False,
    coverage: list[str] | None = None,
) -> Suite:
    """Acceptance tests first, then the regression set (``all``: the whole suite)."""
    if regression == "all":
        select: list[str] | None = None
    elif regression == "none":
        select = list(acceptance)
    else:
        select = list(acceptance) + list(regression)
    if select == []:
        return Suite([])
    run = run_tests(sandbox, workspace, environ, test_cmd, select, timeout, cancel,
                    first=acceptance, fail_fast=fail_fast, coverage=coverage)  # fmt: skip
    suite = Suite([run])
    if not run.recorded or run.stopped:
        return suite
    missing = [n for n in acceptance if run.outcome(n) == "missing"]
    if missing:  # outside the paths the whole suite collects: run them by name
        suite.runs.append(run_tests(sandbox, workspace, environ, test_cmd, missing, timeout,
                                    cancel, coverage=coverage))  # fmt: skip
    return suite
