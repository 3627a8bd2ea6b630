"""Run the repository's test command and read per-node-id outcomes.

Outcomes come from overnight's pytest plugin, copied for every run under a
fresh random module name (so nothing in the workspace can shadow it) and
injected through ``PYTEST_ADDOPTS`` and ``PYTHONPATH``, so it works whatever
the test command is, as long as it runs pytest. They arrive on a channel the
code under test cannot rewrite (``channel.py``). The test runner's
configuration is pinned to the base commit's (``Pinned``): a pytest.ini,
pyproject.toml or setup.cfg the agent changed does not steer its own grading.
Exit codes alone are never trusted: if the plugin reported nothing, the run is
an error.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from overnight.gates.channel import Channel
from overnight.sandbox import Access, Completed, Sandbox

PLUGIN_DIR = Path(__file__).parent / "plugin"
PASSED = "passed"


@dataclass
class Pinned:
    """What steers a test run, taken from the base commit, never from the change."""

    config: tuple[str, str] | None = None  # (file name, content) of pytest's config file
    packages: list[str] = field(default_factory=list)  # the project's top-level imports
    steer: bool = True  # False: the repository's own configuration (a downstream one)


@dataclass
class TestRun:
    __test__ = False

    command: str
    completed: Completed
    outcomes: dict[str, dict] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)
    recorded: bool = True  # False: the plugin never reported
    stopped: bool = False  # fail-fast: an acceptance test failed and the rest did not run
    coverage: dict | None = None  # with ``coverage=``: file -> statements, executed (coverage.py)
    imported: dict[str, str | None] = field(default_factory=dict)  # package -> where from
    finished: bool = True  # False: pytest ended without finishing its session

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

    def foreign(self, roots: list[Path]) -> list[tuple[str, str]]:
        """The project's packages imported from outside ``roots`` (the clone and its
        virtualenv): (package, where it came from)."""
        real = [os.path.realpath(r).rstrip("/") for r in roots]
        return [
            (name, where)
            for name, where in sorted(self.imported.items())
            if where and not any(where == r or where.startswith(r + "/") for r in real)
        ]


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
    pinned: Pinned | None = None,
) -> TestRun:
    """Run ``test_cmd``; with ``select``, only those node ids (and their files).
    Node ids in ``first`` run before the others; with ``fail_fast`` the run stops
    when one of them fails. With ``coverage`` (files relative to the workspace),
    the run is measured by coverage.py (gates/coverage.py)."""
    run = Path(tempfile.mkdtemp(prefix=".tests-", dir=workspace.parent))
    try:
        run.chmod(0o755)  # read by the sandbox's uid; written only here
        env, writable = _environ(run, environ, first, fail_fast, coverage, pinned, workspace)
        command = test_cmd.replace("{tests}", "")
        if select is not None:
            _write(run / "select.json", select)
            env["OVERNIGHT_SELECT"] = str(run / "select.json")
            files = sorted({n.split("::", 1)[0] for n in select})
            files = [f for f in files if (workspace / f).exists()]
            if not files:
                done = Completed(test_cmd, 0, "none of the selected test files exist", 0.0)
                return TestRun(test_cmd, done)
            args = " ".join(shlex.quote(f) for f in files)
            command = (
                test_cmd.replace("{tests}", args) if "{tests}" in test_cmd else f"{test_cmd} {args}"
            )
        channel = Channel()
        env["OVERNIGHT_OUTCOMES"] = str(channel.path)
        done = sandbox.run(
            command,
            cwd=workspace,
            env=env,
            timeout=timeout,
            cancel=cancel,
            access=Access(readable=(run, channel.folder), writable=writable),
        )
        got = channel.close()
        measured = run / "cov" / "coverage.json"
        report = _json(measured) if coverage is not None else None
        return TestRun(
            command,
            done,
            got.outcomes,
            got.collect_errors,
            recorded=got.connected,
            stopped=got.stopped,
            coverage=report,
            imported=got.imported,
            finished=got.finished,
        )
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _environ(
    run: Path,
    environ: dict[str, str],
    first: list[str] | None,
    fail_fast: bool,
    coverage: list[str] | None,
    pinned: Pinned | None,
    workspace: Path,
) -> tuple[dict[str, str], tuple[Path, ...]]:
    """The run's environment (plugins under fresh names, pinned configuration) and the
    paths it may write."""
    env = dict(environ)
    plugins = run / "plugins"
    plugins.mkdir(mode=0o755)
    outcomes = _plugin(plugins, "overnight_outcomes")
    env["PYTHONPATH"] = ":".join(p for p in (str(plugins), env.get("PYTHONPATH")) if p)
    options = [f"-p {outcomes}", "-p no:cacheprovider", "--continue-on-collection-errors"]
    if pinned is not None and pinned.steer:
        options += _pin(run, pinned, workspace)
    if pinned is not None and pinned.packages:
        _write(run / "packages.json", pinned.packages)
        env["OVERNIGHT_PACKAGES"] = str(run / "packages.json")
    writable: tuple[Path, ...] = ()
    if coverage is not None:
        from overnight.gates.coverage import measure_env

        (run / "cov").mkdir()
        writable = (run / "cov",)
        options.insert(0, f"-p {_plugin(plugins, 'overnight_coverage')}")
        env.update(measure_env(run / "cov", coverage))
    env["PYTEST_ADDOPTS"] = " ".join([*options, env.get("PYTEST_ADDOPTS", "")]).strip()
    if first:
        _write(run / "first.json", first)
        env["OVERNIGHT_FIRST"] = str(run / "first.json")
        env["OVERNIGHT_FAIL_FAST"] = "1" if fail_fast else "0"
    return env, writable


def _plugin(directory: Path, name: str) -> str:
    """Copy one of overnight's plugins into ``directory`` under a fresh module name."""
    module = f"{name}_{secrets.token_hex(6)}"
    shutil.copyfile(PLUGIN_DIR / f"{name}.py", directory / f"{module}.py")
    os.chmod(directory / f"{module}.py", 0o644)
    return module


def _pin(run: Path, pinned: Pinned, workspace: Path) -> list[str]:
    """pytest's options for the base's configuration file (an empty one when the base
    has none, so a file the change adds is not picked up either)."""
    name, content = pinned.config or ("pytest.ini", "[pytest]\n")
    folder = run / "config"
    folder.mkdir(mode=0o755)
    (folder / name).write_text(content)
    os.chmod(folder / name, 0o644)
    where = shlex.quote(str(workspace))
    return [f"-c {shlex.quote(str(folder / name))}", f"--rootdir={where}", f"--confcutdir={where}"]


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data))
    os.chmod(path, 0o644)


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() and not path.is_symlink() else None
    except ValueError:
        return None


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

    def foreign(self, roots: list[Path]) -> list[tuple[str, str]]:
        return [found for run in self.runs for found in run.foreign(roots)]

    def drop(self, owned: Callable[[str], bool]) -> None:
        """Forget outcomes and collection errors of nodes ``owned`` says are not the
        project's (the canaries: evidence for the tamper check only)."""
        for run in self.runs:
            run.outcomes = {k: v for k, v in run.outcomes.items() if not owned(k)}
            run.collect_errors = {k: v for k, v in run.collect_errors.items() if not owned(k)}

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
    pinned: Pinned | None = None,
    extra: list[str] | None = None,
) -> Suite:
    """Acceptance tests first, then the regression set (``all``: the whole suite) and
    ``extra`` node ids that must run too (canaries)."""
    extra = list(extra or [])
    if regression == "all":
        select: list[str] | None = None
    elif regression == "none":
        select = list(acceptance) + extra
    else:
        select = list(acceptance) + list(regression) + extra
    if select == []:
        return Suite([])
    run = run_tests(
        sandbox,
        workspace,
        environ,
        test_cmd,
        select,
        timeout,
        cancel,
        first=acceptance,
        fail_fast=fail_fast,
        coverage=coverage,
        pinned=pinned,
    )
    suite = Suite([run])
    if not run.recorded or run.stopped:
        return suite
    missing = [n for n in [*acceptance, *extra] if run.outcome(n) == "missing"]
    if missing:  # outside the paths the whole suite collects: run them by name
        suite.runs.append(
            run_tests(
                sandbox,
                workspace,
                environ,
                test_cmd,
                missing,
                timeout,
                cancel,
                coverage=coverage,
                pinned=pinned,
            )
        )
    return suite
