"""A gate context on a real two-commit repository, for the unit tests of one gate.

The base commit holds ``base``; the candidate commit on top of it applies
``change`` (a path mapped to None is deleted). Commands run through the
``none`` sandbox with overnight's own Python (pytest, coverage, bandit...).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from overnight.config import ProjectConfig
from overnight.environment import Environment
from overnight.gates import Baseline, GateContext
from overnight.sandbox import get_sandbox
from overnight.spec import Spec
from overnight.testing.repos import commit_all, make_repo, write_files
from overnight.workspace import Workspace, git


def context(
    tmp_path: Path,
    base: Mapping[str, str | bytes],
    change: Mapping[str, str | bytes | None],
    *,
    config: ProjectConfig | None = None,
    spec: Spec | None = None,
    name: str = "repo",
    sandbox: str = "none",
) -> GateContext:
    repo = make_repo(tmp_path / name, base)
    base_sha = git(["rev-parse", "HEAD"], repo)
    write_files(repo, {k: v for k, v in change.items() if v is not None})
    for path, content in change.items():
        if content is None:
            (repo / path).unlink()
    sha = commit_all(repo, "candidate")
    out = git(["diff", "--name-only", "-z", "--no-renames", base_sha, sha], repo)
    changed = [name for name in out.split("\0") if name]
    return GateContext(
        workspace=Workspace(repo, base_sha, "main"),
        spec=spec or Spec(title="Add mul to calc", description="Add `mul(a, b)` to calc.py."),
        config=config or ProjectConfig(test_cmd="python -m pytest -q"),
        baseline=Baseline(),
        sandbox=get_sandbox(sandbox),
        # overnight's own Python has pytest plugins a project would not: keep them out
        environ=Environment(None).environ(repo, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
        changed=changed,
        protected=[],
        sha=sha,
        timeout=120,
        repo=str(repo),
    )


@contextmanager
def at_base(ctx: GateContext) -> Any:
    """The workspace checked out at the base while the block runs (to measure it)."""
    git(["checkout", "-q", ctx.workspace.base_sha], ctx.path)
    sha = ctx.sha
    ctx.sha = ctx.workspace.base_sha
    try:
        yield ctx
    finally:
        ctx.sha = sha
        git(["checkout", "-q", sha], ctx.path)


def config(text: str) -> ProjectConfig:
    """A ProjectConfig from overnight.toml text."""
    from overnight.gates.settings import parse_config

    return parse_config({"overnight.toml": 'test_cmd = "python -m pytest -q"\n' + text})


def run(cmd: list[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout
