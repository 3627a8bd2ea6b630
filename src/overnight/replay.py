"""``overnight replay``: run a recorded run's agent again against its recorded answers.

A fresh clone at the run's base (visible test patches applied, the cached
environment) gets the built-in agent with today's prompts (the repository's
at the base, the home's, the built-in ones) and the standards at the base; every model call is
answered with the recorded response (``llm/replay.py``), every command really
runs. Each turn is compared with the record: was the request the same, the
command, the output. Nothing is written to the store; gates are not run.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from overnight.agents import AgentContext, Turn
from overnight.agents.library import PromptSet, repo_templates
from overnight.agents.loop import BuiltinAgent
from overnight.agents.settings import agent_config
from overnight.agents.standards import Convention, standards_at
from overnight.config import DEPENDENCY_FILES, ProjectConfig, cache_dir, home
from overnight.environment import Environment, ensure_environment
from overnight.errors import NotFound, UsageError
from overnight.gates.settings import config_from_dict
from overnight.llm.replay import ReplayModel
from overnight.sandbox import Sandbox, get_sandbox
from overnight.spec import Spec
from overnight.store import Store
from overnight.store import Turn as TurnRow
from overnight.workspace import RepoCache, Workspace, read_files


@dataclass
class TurnCheck:
    attempt: int
    number: int
    same_request: bool
    command: str | None
    recorded_command: str | None
    same_output: bool


@dataclass
class AttemptReplay:
    attempt: int
    recorded_turns: int
    summary: str
    recorded_end: str
    turns: list[TurnCheck] = field(default_factory=list)


@dataclass
class ReplayReport:
    task_id: int
    run_number: int
    workspace: Path
    attempts: list[AttemptReplay] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(
            t.same_request and t.same_output and t.command == t.recorded_command
            for a in self.attempts
            for t in a.turns
        ) and all(len(a.turns) == a.recorded_turns for a in self.attempts)


def replay(store: Store, task_id: int | str, run_number: int | None = None) -> ReplayReport:
    with store.session() as session:
        task = store.task(session, task_id)
        runs = [r for r in task.runs if run_number is None or r.number == run_number]
        if not runs:
            raise NotFound(f"task {task.id} has no run {run_number}")
        run = runs[-1]
        turns = list(run.turns)
        if not turns:
            raise UsageError(
                f"task {task.id} run {run.number} has no recorded turns: only "
                "runs of the built-in agent can be replayed"
            )
        states = {(t.attempt, t.number): t.checkpoint for t in turns}  # read in the session
        spec, config = Spec.from_dict(task.spec), config_from_dict(task.config)
        repo, base_sha, number = task.repo, run.base_sha, run.number
    root = home() / "replays"
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{task_id}-r{number}-", dir=root))
    sandbox = get_sandbox(config.sandbox)
    cache = RepoCache(cache_dir() / "repos").fetch(repo, base_sha)
    work = Workspace.create(cache, path / "work", base_sha, "overnight-replay")
    for patch in spec.visible_patches:
        work.apply_patch(patch.text, f"test_patch '{patch.path}'")
    env = _environment(config, cache, base_sha, sandbox)
    spec_file = path / "spec.md"
    spec_file.write_text(spec.for_agent())
    given = (
        repo_templates(cache, base_sha),
        standards_at(cache, base_sha, config.standard_files()),
        spec.prompts,
    )
    report = ReplayReport(int(task_id), number, work.path)
    for attempt in sorted({t.attempt for t in turns}):
        recorded = [t for t in turns if t.attempt == attempt]
        first, last = states[attempt, recorded[0].number], states[attempt, recorded[-1].number]
        noted = (
            (first.feedback if first else None) or "",
            (last.end if last else None) or "(not recorded)",
        )
        report.attempts.append(
            _replay_attempt(recorded, noted, config, work, env, sandbox, spec_file, given)
        )
    return report


def _replay_attempt(
    recorded: list[TurnRow],
    noted: tuple[str, str],
    config: ProjectConfig,
    work: Workspace,
    env: Environment,
    sandbox: Sandbox,
    spec_file: Path,
    # the repository's prompts, the standards, an evaluation's prompts
    given: tuple[dict[str, str], list[Convention], PromptSet | None],
) -> AttemptReplay:
    first = recorded[0]
    model = ReplayModel(first.model, recorded)
    agent = BuiltinAgent(agent_config(config, first.model), model=model)
    new: list[Turn] = []

    def keep(turn: Turn) -> None:
        if not new or new[-1].number != turn.number:
            new.append(turn)

    ctx = AgentContext(
        task_id=0,
        run_number=0,
        attempt=first.attempt,
        workspace=work.path,
        spec_file=spec_file,
        feedback=noted[0],  # what the attempt began with
        sandbox=sandbox,
        environ=env.environ(work.path),
        timeout=config.timeout_minutes * 60,
        cancel=threading.Event(),
        on_turn=keep,
        prompts=agent.prompt_library(given[0], given[2]),
        standards=given[1],
    )
    result = agent.run(ctx)
    out = AttemptReplay(first.attempt, len(recorded), result.summary, noted[1])
    for turn, old, same in zip(new, recorded, model.same, strict=False):
        out.turns.append(
            TurnCheck(
                turn.attempt,
                turn.number,
                same,
                turn.command,
                old.command,
                (turn.output or "") == (old.output or ""),
            )
        )
    return out


def _environment(config: ProjectConfig, cache: Path, sha: str, sandbox: Sandbox) -> Environment:
    if config.environment == "inherit":
        return Environment(None, variables=config.env)

    def checkout(source: Path) -> None:
        Workspace.create(cache, source, sha, "overnight-setup")

    files = read_files(cache, sha, DEPENDENCY_FILES)
    return ensure_environment(
        config, files, cache_dir() / "envs", checkout, sandbox, config.timeout_minutes * 60
    )
