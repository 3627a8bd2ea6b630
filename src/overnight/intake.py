"""Intake: turn spec text into a queued task.

Everything is checked before anything is queued: the spec (every problem
with its line), the repository, the base (pinned to a sha), the project's
configuration at that sha, and the agent (the built-in one when none is named).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from overnight import queue
from overnight.config import CONFIG_FILE, ProjectConfig, cache_dir, parse_config
from overnight.errors import UsageError, WorkspaceError
from overnight.spec import Problem, Spec, load_spec, parse_spec
from overnight.store import Store, Task
from overnight.workspace import RepoCache, dirty_files, read_files, resolve_repo


@dataclass
class Submitted:
    task: Task
    warnings: list[str] = field(default_factory=list)


def submit_text(
    store: Store,
    text: str,
    *,
    source: str,
    base_dir: Path,
    agent: str | None = None,
    instance_id: str | None = None,
) -> Submitted:
    spec = load_spec(text, source, base_dir)
    spec.instance_id = instance_id
    warnings = [  # the CLI prints each as "warning: ..."
        f"{source}:{p.line}: {p.message}"
        for p in parse_spec(text, base_dir)[1]
        if p.severity == "warning"
    ]
    return submit_spec(store, spec, text, base_dir=base_dir, agent=agent, warnings=warnings)


def submit_spec(
    store: Store,
    spec: Spec,
    text: str,
    *,
    base_dir: Path,
    agent: str | None = None,
    warnings: list[str] | None = None,
) -> Submitted:
    warnings = list(warnings or [])
    try:  # at submit, a bad repository or base is the user's input to fix
        repo = resolve_repo(spec.repo, base_dir)
        cache = RepoCache(cache_dir() / "repos")
        base_ref, base_sha = cache.resolve(repo, spec.base)
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from exc
    dirty = dirty_files(repo)
    if dirty:
        warnings.append(
            f"{repo} has {len(dirty)} uncommitted change(s) (e.g. {dirty[0]}): "
            f"they are not part of the task, which starts from {base_sha[:10]}"
        )
    config = load_config(cache.path(repo), base_sha)
    # no agent anywhere: the built-in one, on config.model or the embedded model
    chosen = agent or spec.agent or config.agent or "builtin"
    from overnight.agents import get_agent

    get_agent(chosen, config)  # refuses an unknown agent or model now, not at run time
    task = queue.submit(
        store, spec, text, config, repo=repo, base_ref=base_ref, base_sha=base_sha, agent=chosen
    )
    return Submitted(task, warnings)


def load_config(cache: Path, sha: str) -> ProjectConfig:
    return parse_config(
        read_files(
            cache,
            sha,
            (
                CONFIG_FILE,
                "pyproject.toml",
                "setup.py",
                "setup.cfg",
                "requirements.txt",
                "requirements-dev.txt",
                "requirements-test.txt",
                "test-requirements.txt",
                "dev-requirements.txt",
                "ruff.toml",
                ".ruff.toml",
            ),
        )
    )


def inline_spec(title: str, tests: list[str], runs: list[str], body: str = "") -> str:
    """Spec text for ``submit --title ... --accept-test ... --accept-run ...``."""
    import yaml

    data: dict = {"title": title}
    acceptance = [{"tests": t} for t in tests] + [{"run": r} for r in runs]
    if acceptance:
        data["acceptance"] = acceptance
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n" + body + "\n"


def lint_problems(text: str, base_dir: Path) -> list[Problem]:
    return parse_spec(text, base_dir)[1]
