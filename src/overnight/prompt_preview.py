"""``overnight prompts render NAME --task ID``: a prompt as a task's agent gets it.

The task's agent and configuration as submitted, its repository's templates
and coding standards at the base of its latest run (read from git's objects,
as the run reads them), the spec as the agent sees it, the files of the base
and the text of those the spec names: the first attempt's prompt, made by
the same code (``agents/prompts.py``). Per-turn templates (observation,
stuck, ...) get example values.
"""

from __future__ import annotations

from overnight.agents.library import repo_templates
from overnight.agents.loop import BuiltinAgent
from overnight.agents.prompts import preview
from overnight.agents.registry import get_agent
from overnight.agents.standards import standards_at
from overnight.config import cache_dir
from overnight.errors import UsageError
from overnight.gates.settings import config_from_dict
from overnight.spec import Spec
from overnight.spec.model import patched_files
from overnight.store import Store
from overnight.workspace import RepoCache, files_at, git


def render_for_task(store: Store, task_id: int | str, name: str) -> str:
    with store.reading() as session:
        task = store.task(session, task_id)
        spec, config = Spec.from_dict(task.spec), config_from_dict(task.config)
        repo, agent_name, number = task.repo, task.agent, task.id
        sha = task.runs[-1].base_sha if task.runs else task.base_sha
    agent = get_agent(agent_name, config)
    if not isinstance(agent, BuiltinAgent):
        raise UsageError(
            f"task {number}'s agent is '{agent_name}': overnight gives it no prompts (it reads "
            "the spec in $OVERNIGHT_SPEC, the standards' paths in $OVERNIGHT_STANDARDS)"
        )
    cache = RepoCache(cache_dir() / "repos").fetch(repo, sha)
    files = git(["ls-tree", "-r", "--name-only", sha], cache).splitlines()
    visible = [path for p in spec.visible_patches for path in patched_files(p.text)]
    return preview(
        agent.prompt_library(repo_templates(cache, sha), spec.prompts),
        name,
        agent.config.protocol,
        spec=spec.for_agent().strip(),
        standards=standards_at(cache, sha, config.standard_files()),
        files=sorted(set(files) | set(visible))[:200],
        read=lambda path: files_at(cache, sha, [path]).get(path),
        named_files=agent.config.named_files,
    )
