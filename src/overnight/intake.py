"""Intake: turn spec text into a queued task.

Everything is checked before anything is queued: the spec (every problem
with its line), the repository, the base (pinned to a sha), the project's
configuration and prompt templates at that sha, and the agent (the built-in one when none is named).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from overnight import queue
from overnight.agents.library import PromptLibrary, repo_templates
from overnight.agents.registry import agent_problem, get_agent
from overnight.config import CONFIG_FILE, ProjectConfig, cache_dir
from overnight.errors import UsageError, WorkspaceError
from overnight.forges.registry import forge_settings
from overnight.gates.settings import parse_config
from overnight.notify.settings import parse_notify
from overnight.spec import Problem, Spec, load_spec, parse_spec
from overnight.spec.limits import control_character
from overnight.spec.text import check_text as spec_text
from overnight.store import Store, Task
from overnight.workspace import RepoCache, dirty_files, read_files, resolve_repo


@dataclass
class Submitted:
    task: Task
    warnings: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """A spec checked and pinned (repository, base sha, configuration, agent):
    queuing it can no longer fail on the user's input."""

    spec: Spec
    text: str
    config: ProjectConfig
    repo: str
    base_ref: str
    base_sha: str
    agent: str
    warnings: list[str]


def submit_text(
    store: Store,
    text: str | bytes,
    *,
    source: str,
    base_dir: Path,
    agent: str | None = None,
    instance_id: str | None = None,
    cwd: Path | None = None,
) -> Submitted:
    """``base_dir``: where the spec's relative paths start; ``cwd``: where the user
    is, whose repository a spec without ``repo`` is for (default ``base_dir``)."""
    prepared = prepare_text(
        store, text, source=source, base_dir=base_dir, agent=agent, instance_id=instance_id, cwd=cwd
    )
    return enqueue(store, prepared)


def submit_all(
    store: Store,
    sources: list[tuple[str, str | bytes, Path]],
    agent: str | None = None,
    cwd: Path | None = None,
) -> list[Submitted]:
    """Queue every (source, text, base_dir), or none of them: all are checked first."""
    prepared = [
        prepare_text(store, t, source=s, base_dir=b, agent=agent, cwd=cwd) for s, t, b in sources
    ]
    return [enqueue(store, p) for p in prepared]


def submit_spec(
    store: Store,
    spec: Spec,
    text: str,
    *,
    base_dir: Path,
    agent: str | None = None,
    warnings: list[str] | None = None,
) -> Submitted:
    prepared = prepare_spec(store, spec, text, base_dir=base_dir, agent=agent, warnings=warnings)
    return enqueue(store, prepared)


def prepare_text(
    store: Store,
    text: str | bytes,
    *,
    source: str,
    base_dir: Path,
    agent: str | None = None,
    instance_id: str | None = None,
    cwd: Path | None = None,
) -> Prepared:
    spec = load_spec(text, source, base_dir)
    spec.instance_id = instance_id
    text = spec_text(text)[0]  # as stored: decoded, without a byte order mark
    warnings = [  # the CLI prints each as "warning: ..."
        f"{source}:{p.line}: {p.message}"
        for p in parse_spec(text, base_dir)[1]
        if p.severity == "warning"
    ]
    return prepare_spec(
        store, spec, text, base_dir=base_dir, agent=agent, warnings=warnings, cwd=cwd
    )


def prepare_spec(
    store: Store,
    spec: Spec,
    text: str,
    *,
    base_dir: Path,
    agent: str | None = None,
    warnings: list[str] | None = None,
    cwd: Path | None = None,
) -> Prepared:
    warnings = list(warnings or [])
    if agent is not None:
        bad = control_character(agent)
        problem = f"'{agent}' holds {bad}: write it on one line" if bad else agent_problem(agent)
        if problem:
            raise UsageError(f"agent override: {problem}")
    try:  # at submit, a bad repository or base is the user's input to fix
        repo = resolve_repo(spec.repo, base_dir, cwd)
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
    # the repository's prompt templates parse: a broken one queues nothing
    templates = repo_templates(cache.path(repo), base_sha)
    PromptLibrary(repo=templates).check()
    # no agent anywhere: the built-in one, on config.model or the embedded model
    chosen = agent or spec.agent or config.agent or "builtin"
    built = get_agent(chosen, config)  # refuses an unknown agent or model now, not at run time
    if spec.prompts is not None:  # an evaluation's: its agent must render them
        library = built.prompt_library(templates, spec.prompts)
        if library is None:
            raise UsageError(f"prompts are for the built-in agent: '{chosen}' renders none")
        library.check()
    with store.reading() as session:
        queue.check_dependencies(session, spec)
    return Prepared(spec, text, config, repo, base_ref, base_sha, chosen, warnings)


def enqueue(store: Store, prepared: Prepared) -> Submitted:
    p = prepared
    task = queue.submit(
        store,
        p.spec,
        p.text,
        p.config,
        repo=p.repo,
        base_ref=p.base_ref,
        base_sha=p.base_sha,
        agent=p.agent,
    )
    return Submitted(task, p.warnings)


def load_config(cache: Path, sha: str) -> ProjectConfig:
    config = parse_config(
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
    parse_notify(config.notify, CONFIG_FILE)  # [[notify.channel]] checked whole at submit
    forge_settings(config.forge, CONFIG_FILE)  # and [forge]: a wrong table queues nothing
    return config


def inline_spec(title: str, tests: list[str], runs: list[str], body: str = "") -> str:
    """Spec text for ``submit --title ... --accept-test ... --accept-run ...``."""
    import yaml

    data: dict = {"title": title}
    acceptance = [{"tests": t} for t in tests] + [{"run": r} for r in runs]
    if acceptance:
        data["acceptance"] = acceptance
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n" + body + "\n"


def lint_problems(
    text: str | bytes, base_dir: Path, cwd: Path | None = None
) -> tuple[Spec | None, list[Problem]]:
    """What ``spec lint`` reports: the spec's problems, then its repository's, resolved
    as ``submit`` resolves it (``resolve_repo``); the spec, if it has no errors."""
    spec, problems = parse_spec(text, base_dir)
    if spec is None:
        return None, problems
    try:
        resolve_repo(spec.repo, base_dir, cwd)
    except WorkspaceError as exc:
        line = repo_line(spec_text(text)[0]) if spec.repo else 1
        return None, sorted([*problems, Problem(line, str(exc))], key=lambda p: p.line)
    return spec, problems


def repo_line(text: str) -> int:
    """The line of the front matter's ``repo`` field."""
    lines = text.splitlines()
    return next((n for n, line in enumerate(lines, 1) if line.startswith("repo:")), 1)


def configured_sandbox(repo: Path) -> str:
    """The sandbox the repository's configuration (working tree) asks for."""
    files = {
        name: (repo / name).read_text()
        for name in (CONFIG_FILE, "pyproject.toml")
        if (repo / name).is_file()
    }
    return parse_config(files).sandbox or os.environ.get("OVERNIGHT_SANDBOX") or "auto"
