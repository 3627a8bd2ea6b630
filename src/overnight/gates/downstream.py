"""The ``downstream`` gate: repositories that depend on this one still pass.

    [gates.downstream]
    repos = [{repo = "../app", setup = ["python -m pip install -e ."],
              test_cmd = "python -m pytest -q"}]

Each downstream repository (a path, relative to this repository, or a git
URL) is cloned at its default branch's head, pinned in the baseline, and
gets a cached environment from its own setup commands. Its suite runs twice:
in the baseline step against the base, and in this gate against the
candidate. Either way the project under test is put first on ``PYTHONPATH``,
so it stands in place of the released package the setup installed. A test
that passed against the base and does not against the candidate fails the
gate, named with its repository.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from overnight.config import DEPENDENCY_FILES, GateConfig, ProjectConfig, cache_dir
from overnight.environment import Environment, ensure_environment
from overnight.errors import OvernightError, WorkspaceError
from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.pytest_run import PASSED, Pinned, TestRun, run_tests
from overnight.sandbox import Access, Granted
from overnight.text import trim
from overnight.workspace import RepoCache, Workspace, default_branch, git, is_url, read_files


@dataclass
class DownstreamRepo:
    repo: str
    test_cmd: str = "python -m pytest"
    setup: list[str] = field(default_factory=list)
    name: str | None = None  # default: the repository's last path component
    ref: str | None = None  # default: its default branch

    @property
    def label(self) -> str:
        return self.name or self.repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


@dataclass
class DownstreamConfig(GateConfig):
    repos: list[DownstreamRepo] = field(default_factory=list)
    HINTS: ClassVar[dict[str, str]] = {
        "repos": '[{repo = "../app", setup = ["python -m pip install -e ."], '
        'test_cmd = "python -m pytest -q"}]'
    }


class DownstreamGate(BaseGate):
    name = "downstream"
    config_type = DownstreamConfig

    def measure(self, ctx: GateContext) -> tuple[dict[str, Any] | None, str]:
        """The downstream suites against the base: pinned sha and passing tests."""
        repos = self._repos(ctx)
        if not repos:
            return None, ""
        data: dict[str, Any] = {}
        logs = []
        for repo in repos:
            try:
                path, env, sha = prepare(ctx, repo, None)
            except OvernightError as exc:
                data[repo.label] = {"error": f"cannot prepare {repo.repo}: {exc}"}
                logs.append(f"downstream {repo.label}: {exc}")
                continue
            run = run_downstream(ctx, repo, path, env)
            logs.append(
                f"downstream {repo.label} at {sha[:10]}, against the base:\n"
                f"$ {run.command}\n{run.completed.output}"
            )
            data[repo.label] = {
                "sha": sha,
                "passing": sorted(run.passing()) if run.recorded else [],
                "error": unexercised(ctx, run, "the base"),
            }
        return data, "\n\n".join(logs)

    def check(self, ctx: GateContext) -> GateOutcome:
        repos = self._repos(ctx)
        if not repos:
            return GateOutcome(self.name, SKIPPED, "no downstream repositories configured")
        start = time.monotonic()
        base = ctx.baseline.gates.get(self.name) or {}
        regressions: list[tuple[str, str, dict]] = []
        problems, logs, commands, counted = [], [], [], 0
        for repo in repos:
            measured = base.get(repo.label)
            if measured is None or measured.get("error"):
                problems.append(
                    f"{repo.label}: {(measured or {}).get('error') or 'not measured on the base'}"
                )
                continue
            try:
                path, env, _ = prepare(ctx, repo, measured["sha"])
            except OvernightError as exc:
                problems.append(f"{repo.label}: cannot prepare {repo.repo}: {exc}")
                continue
            run = run_downstream(ctx, repo, path, env)
            commands.append(f"{repo.label}: {run.command}")
            logs.append(
                f"== {repo.label} at {measured['sha'][:10]}\n$ {run.command}\n"
                f"{run.completed.output}\n[exit {run.completed.exit_code}]"
            )
            problem = unexercised(ctx, run, "the candidate")
            if problem:
                problems.append(f"{repo.label}: {problem}")
                continue
            counted += len(measured["passing"])
            for node in measured["passing"]:
                if run.outcome(node) != PASSED:
                    regressions.append(
                        (repo.label, node, run.detail(node) | {"outcome": run.outcome(node)})
                    )
        command = " ; ".join(commands) or "downstream"
        log, duration = "\n\n".join(logs), time.monotonic() - start
        if regressions:
            names = ", ".join(f"{r}: {n}" for r, n, _ in regressions[:3])
            more = f" and {len(regressions) - 3} more" if len(regressions) > 3 else ""
            lines = [
                f"- {r}: {n} passed against the base, {d['outcome']} now"
                + (f"\n  {d['message']}" if d.get("message") else "")
                + (f"\n  ```\n{trim(d['text'], 600)}\n  ```" if d.get("text") else "")
                for r, n, d in regressions[:10]
            ]
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(regressions)} downstream test(s) broken: {names}{more}",
                command=command,
                duration=duration,
                log=log,
                feedback="Your change breaks repositories that depend on this one; keep the "
                "behaviour they rely on:\n" + "\n".join(lines),
            )
        if problems:
            return GateOutcome(
                self.name,
                ERROR,
                f"could not check: {problems[0]}",
                command=command,
                duration=duration,
                log=log,
            )
        return GateOutcome(
            self.name,
            PASS,
            f"{counted} downstream test(s) in {len(repos)} repositor"
            f"{'y' if len(repos) == 1 else 'ies'} still pass",
            command=command,
            duration=duration,
            log=log,
        )

    def _repos(self, ctx: GateContext) -> list[DownstreamRepo]:
        cfg = ctx.config.gate(self.name, DownstreamConfig)
        return cfg.repos


def prepare(
    ctx: GateContext, repo: DownstreamRepo, sha: str | None
) -> tuple[Path, Environment, str]:
    """The downstream clone (at ``sha``, or its default branch's head) and environment."""
    location = resolve(repo.repo, ctx.repo)
    cache = RepoCache(cache_dir() / "repos").fetch(location, sha)
    if sha is None:
        ref = repo.ref or default_branch(location, cache)
        sha = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], cache)
    path = ctx.path.with_name(f"{ctx.path.name}-downstream") / repo.label
    if not (path / ".git").exists() or git(["rev-parse", "HEAD"], path, check=False) != sha:
        Workspace.create(cache, path, sha, "overnight-downstream")

    def checkout(source: Path) -> None:
        Workspace.create(cache, source, sha, "overnight-setup")

    env = ensure_environment(
        ProjectConfig(setup=list(repo.setup)),
        read_files(cache, sha, DEPENDENCY_FILES),
        cache_dir() / "envs",
        checkout,
        ctx.sandbox,
        ctx.timeout,
    )
    return path, env, sha


def resolve(location: str, project: str | None) -> str:
    if is_url(location) or Path(location).expanduser().is_absolute():
        return str(Path(location).expanduser()) if not is_url(location) else location
    if project is None or is_url(project):
        raise WorkspaceError(
            f"downstream repository '{location}' is a relative path, but the "
            "project is not a local repository: give a URL or an absolute path"
        )
    return str((Path(project) / location).resolve())


def unexercised(ctx: GateContext, run: TestRun, against: str) -> str | None:
    """Why a downstream run is no evidence about the project (None: it is): no results,
    no test passing, or the project's packages not imported from the grading clone."""
    if not run.recorded:
        return f"'{run.command}' gave no per-test results against {against}"
    if against == "the base" and not run.passing():  # on the candidate it may be the change
        return f"no downstream test passed against {against}: the suite did not run"
    foreign = run.foreign([ctx.path])
    if foreign:
        name, where = foreign[0]
        return f"'{name}' was imported from {where}, not from {against}"
    if run.imported and not any(run.imported.values()):
        return f"the downstream tests never imported {', '.join(sorted(run.imported))}"
    return None


def run_downstream(ctx: GateContext, repo: DownstreamRepo, path: Path, env: Environment) -> TestRun:
    """The downstream suite, in its own clone and virtualenv, with the project under test
    (the grading clone, readable) first on PYTHONPATH in place of the released package."""
    layer = env.layer(path) if env.path else None
    sandbox = Granted(ctx.sandbox, Access(readable=(ctx.path, *env.access().readable)))
    if layer is not None:
        layer.create()
        layer.install(sandbox, ctx.timeout, ctx.cancel)
    environ = env.environ(path, layer=layer)
    project = (
        [str(ctx.path / "src"), str(ctx.path)] if (ctx.path / "src").is_dir() else [str(ctx.path)]
    )
    environ["PYTHONPATH"] = ":".join(p for p in [*project, environ.get("PYTHONPATH")] if p)
    packages = ctx.pinned.packages if ctx.pinned else []
    return run_tests(
        sandbox,
        path,
        environ,
        repo.test_cmd,
        None,
        ctx.timeout,
        ctx.cancel,
        pinned=Pinned(packages=packages, steer=False),
    )
