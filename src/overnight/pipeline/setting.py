"""Where a run happens: its folders, its environment, the sandboxes of the agent and of
grading, and the gate outcomes the pipeline itself gives (a refused change, a failed install).

Graded commands may read the grading clone's git dir (never write it) and the
cached environment; the agent's commands read the environment and the paths the
configuration grants its program (``agent_paths``), and write their own
virtualenv (the agent may reinstall the project).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overnight.config import DEPENDENCY_FILES, ProjectConfig, cache_dir, home
from overnight.environment import Environment, ensure_environment
from overnight.gates import FAIL, GateOutcome
from overnight.sandbox import Access, Completed, Granted, Sandbox, get_sandbox
from overnight.text import trim
from overnight.workspace import Workspace, read_files
from overnight.workspace.change import Change


@dataclass
class Paths:
    home: Path
    cache: Path

    @classmethod
    def default(cls) -> Paths:
        return cls(home(), cache_dir())

    def workspace(self, task_id: int, run_number: int) -> Path:
        """The agent's clone; the grading clone and run files sit beside it."""
        return self.home / "workspaces" / f"{task_id}-r{run_number}"


def environment(
    config: ProjectConfig, cache: Path, base_sha: str, envs: Path, timeout: float
) -> Environment:
    """The cached environment for the base's dependencies (built when missing)."""
    if config.environment == "inherit":
        return Environment(
            None,
            log="environment: inherit (the worker's own Python; setup commands not run)\n",
            variables=config.env,
        )

    def checkout(source: Path) -> None:
        Workspace.create(cache, source, base_sha, "overnight-setup")

    files = read_files(cache, base_sha, DEPENDENCY_FILES)
    return ensure_environment(config, files, envs, checkout, get_sandbox(config.sandbox), timeout)


def sandboxes(
    config: ProjectConfig, env: Environment, git_dir: Path, agent_venv: Path | None
) -> tuple[Sandbox, Sandbox]:
    """(the grading sandbox, the agent's sandbox)."""
    readable = env.access().readable
    grading = Granted(get_sandbox(config.sandbox), Access(readable=(git_dir, *readable)))
    own = tuple(Path(p).expanduser() for p in config.agent_paths)  # its program, say
    agent = Granted(
        get_sandbox(config.sandbox, role="agent"),
        Access(readable=(*readable, *own), writable=(agent_venv,) if agent_venv else ()),
    )
    return grading, agent


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def change_refused(change: Change) -> GateOutcome:
    """The ``change`` gate: a change that may not be graded, and why."""
    first = change.problems[0]
    more = f" and {len(change.problems) - 1} more" if len(change.problems) > 1 else ""
    return GateOutcome(
        "change",
        FAIL,
        f"the change cannot be graded: {first}{more}",
        command="change: paths, file types and bounds of the workspace's change",
        log="\n".join(change.problems),
        feedback="Your change cannot be graded; fix these and try again:\n"
        + "\n".join(f"- {p}" for p in change.problems[:20]),
    )


def install_failed(done: Completed) -> GateOutcome:
    """The ``install`` gate: the candidate does not install the way the setup installs."""
    return GateOutcome(
        "install",
        FAIL,
        f"the change does not install: {last_line(done.output)}",
        command=done.command,
        exit_code=done.exit_code,
        duration=done.duration,
        log=done.output,
        feedback="The project no longer installs with your change (the same install the "
        "setup does, offline):\n" + trim(done.output, 1500),
    )
