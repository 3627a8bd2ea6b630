"""The demo: the whole journey on a sample repository bundled with overnight.

``create`` makes a fresh git repository from ``templates/demo`` (a small
``textstats`` project) and copies three specs of graded difficulty from
``templates/demo_specs``; ``submit`` queues them; ``start_worker`` runs a
worker in this process; ``snapshot`` and ``events_after`` read progress from
the store; ``check`` compares each task's end with what the demo expects, so
the demo doubles as a smoke test.

Two ways to run it. With a model (the default: the embedded
``local:qwen2.5-coder-1.5b``), the built-in agent works on three specs of
graded difficulty (``templates/demo_specs/model-*.md``); nothing about the
outcome is scripted, so the demo checks honesty only: each task ends READY
with every gate passing, or FAILED with the reason and the evidence.
``--scripted`` uses stand-in agents instead (shell scripts applying prepared
patches): one does the task, one gets it wrong and fixes it from the gates'
feedback, one games the gates, and the demo checks exactly that. Everything
else is real: git, the cached environment, the gates, the feedback loop, the
branch and the PR.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from overnight.errors import UsageError
from overnight.intake import submit_text
from overnight.planning.planfile import Plan
from overnight.planning.planner import make_plan
from overnight.planning.stored import record
from overnight.store import Event, Store, TaskStatus, Turn, now, reads
from overnight.store import events as event_rows
from overnight.task_list import failing_gates, task_summary
from overnight.worker import Worker
from overnight.workspace import IDENTITY, git

TEMPLATES = Path(__file__).parent / "templates"
MARKER = ".overnight-demo"  # marks a directory the demo made, and may wipe
AGENTS = "@AGENTS@"  # in the spec templates: where the scripted agents are
GITIGNORE = "__pycache__/\n.pytest_cache/\n.ruff_cache/\n*.egg-info/\n"
CACHES = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".mypy_cache"
)


@dataclass(frozen=True)
class Expected:
    """How a demo task must end for the demo to pass."""

    spec: str  # file name in templates/demo_specs
    status: str
    attempts: int
    failing_gates: tuple[str, ...] = ()
    honest_only: bool = False  # a model's task: READY or FAILED, either with evidence

    def describe(self) -> str:
        if self.honest_only:
            return "READY with every gate passing, or FAILED with evidence"
        gates = f", failing {' and '.join(self.failing_gates)}" if self.failing_gates else ""
        return f"{self.status.upper()} after {self.attempts} attempt(s){gates}"


EXPECTED = (
    Expected("1-average-word-length.md", TaskStatus.READY, 1),
    Expected("2-top-words-ties.md", TaskStatus.READY, 2),
    Expected("3-unicode-words.md", TaskStatus.FAILED, 1, ("scope", "tests")),
)
MODEL_EXPECTED = tuple(  # easy (a 1.5B model can do it), medium, hard
    Expected(name, "", 0, honest_only=True)
    for name in (
        "model-1-char-count.md",
        "model-2-average-word-length.md",
        "model-3-top-words-ties.md",
    )
)


@dataclass
class DemoTask:
    id: int
    title: str
    expected: Expected


@dataclass
class Demo:
    directory: Path
    repo: Path
    specs: Path
    tasks: list[DemoTask] = field(default_factory=list)


@dataclass
class Progress:
    """One task as the live view shows it."""

    id: int
    title: str
    status: str
    attempt: int
    step: str
    seconds: float


@dataclass
class Outcome:
    task: DemoTask
    status: str
    attempts: int
    failing_gates: tuple[str, ...]
    failure_reason: str | None

    @property
    def ok(self) -> bool:
        want = self.task.expected
        if want.honest_only:
            ready = self.status == TaskStatus.READY and not self.failing_gates
            return ready or (self.status == TaskStatus.FAILED and bool(self.failure_reason))
        return (self.status, self.attempts, self.failing_gates) == (
            want.status,
            want.attempts,
            want.failing_gates,
        )

    def describe(self) -> str:
        gates = f", failing {' and '.join(self.failing_gates)}" if self.failing_gates else ""
        return f"{self.status.upper()} after {self.attempts} attempt(s){gates}"


def default_home(directory: Path) -> Path:
    """Where the demo keeps its state: ``$OVERNIGHT_HOME`` if set, else inside the demo."""
    env = os.environ.get("OVERNIGHT_HOME")
    return Path(env).expanduser() if env else directory / "home"


def create(directory: Path) -> Demo:
    """Make the sample repository and the specs afresh under ``directory``."""
    directory = directory.resolve()
    wipe(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by 'overnight demo'; wiped when it runs again\n")
    repo = directory / "repo"
    specs = directory / "specs"
    shutil.copytree(TEMPLATES / "demo", repo, ignore=CACHES)
    (repo / ".gitignore").write_text(GITIGNORE)
    with open(repo / "overnight.toml", "a") as config:  # the scripted agents, for the sandbox
        config.write(f'agent_paths = ["{specs / "agents"}"]\n')
    git(["init", "--quiet", "--initial-branch", "main"], repo)
    git(["add", "--all"], repo)
    git([*IDENTITY, "commit", "--quiet", "-m", "textstats: words, word_count, top_words"], repo)
    shutil.copytree(TEMPLATES / "demo_specs", specs, ignore=CACHES)
    for spec in specs.glob("*.md"):
        spec.write_text(spec.read_text().replace(AGENTS, str(specs / "agents")))
    return Demo(directory, repo, specs)


PLAN_FEATURE = TEMPLATES / "demo_plan" / "feature.md"


def plan(store: Store, demo: Demo, model: str) -> tuple[Plan, int, Path]:
    """``overnight demo --plan``: ``model`` plans a small feature of the sample
    repository (``templates/demo_plan/feature.md``); each node is proven at the base,
    the folder is written to ``plan/`` and copied into the store for the dashboard.
    Returns the plan, its id in the store, and its folder. Queues nothing; a
    ``PlanError`` (an answer that cannot be used) goes to the caller as it is."""
    feature = demo.directory / "feature.md"
    shutil.copyfile(PLAN_FEATURE, feature)
    folder = demo.directory / "plan"
    made = make_plan(feature, folder, repo=str(demo.repo), model=model, cwd=demo.directory)
    return made, record(store, folder, made), folder


def wipe(directory: Path) -> bool:
    """Remove a previous demo at ``directory``; refuse anything else. True if removed."""
    if not directory.exists():
        return False
    if not directory.is_dir() or (any(directory.iterdir()) and not (directory / MARKER).exists()):
        raise UsageError(
            f"{directory} exists and was not made by 'overnight demo': "
            "choose another --dir (the demo wipes its directory on every run)"
        )
    shutil.rmtree(directory)
    return True


def submit(store: Store, demo: Demo, model: str | None = None) -> list[DemoTask]:
    """Queue the demo's specs, in order of difficulty: for the built-in agent on
    ``model`` if given, else the scripted ones."""
    agent = f"builtin:{model}" if model else None
    for expected in MODEL_EXPECTED if model else EXPECTED:
        spec = demo.specs / expected.spec
        task = submit_text(
            store, spec.read_text(), source=spec.name, base_dir=demo.specs, agent=agent
        ).task
        demo.tasks.append(DemoTask(task.id, task.title, expected))
    return demo.tasks


class WorkerThread(threading.Thread):
    """A worker draining the queue in this process; ``error`` keeps what killed it."""

    def __init__(self, store: Store, slots: int) -> None:
        super().__init__(name="demo-worker", daemon=True)
        self.worker = Worker(store, slots=slots, poll=0.1)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.worker.run(drain=True)
        except BaseException as exc:  # handed to the thread that waits for us
            self.error = exc

    def stop(self) -> None:
        """First call: let running tasks finish. Second: interrupt them."""
        self.worker.stop()


def start_worker(store: Store, slots: int = 2) -> WorkerThread:
    thread = WorkerThread(store, slots)
    thread.start()
    return thread


def snapshot(store: Store, tasks: list[DemoTask]) -> list[Progress]:
    rows = []
    with store.session() as session:
        for item in tasks:
            task = store.task(session, item.id)
            run = task.runs[-1]
            step = run.steps[-1] if run.steps else None
            attempt = max([s.attempt for s in run.steps] + [run.attempts])
            if step is None:
                label = ""
            else:
                label = step.name + (f" #{step.attempt}" if step.attempt else "")
                label += "" if step.status == "done" else f" ({step.status})"
            rows.append(
                Progress(
                    task.id,
                    task.title,
                    task.status,
                    attempt,
                    label,
                    _seconds(run.started_at, run.finished_at),
                )
            )
    return rows


def events_after(store: Store, tasks: list[DemoTask], after: int) -> list[Event]:
    """The demo tasks' events with ids above ``after``, oldest first."""
    with store.session() as session:
        return event_rows.events_of(session, [t.id for t in tasks], after)


def turns_after(store: Store, tasks: list[DemoTask], after: int) -> list[tuple[int, Turn]]:
    """(task id, turn) of the demo tasks' agent turns with ids above ``after``, oldest first."""
    with store.session() as session:
        return reads.turns_after(session, [t.id for t in tasks], after)


def check(store: Store, tasks: list[DemoTask]) -> list[Outcome]:
    """How each task ended, to compare with what the demo expects."""
    outcomes = []
    with store.session() as session:
        for item in tasks:
            task = store.task(session, item.id)
            run = task.runs[-1]
            failing = failing_gates(run.gates, run.attempts)
            outcomes.append(
                Outcome(item, task.status, run.attempts, tuple(failing), task.failure_reason)
            )
    return outcomes


def evidence(store: Store, task_id: int) -> list[tuple[str, str]]:
    """(gate, what it found) for the blocking gates that failed on the last attempt."""
    with store.session() as session:
        run = store.task(session, task_id).runs[-1]
        return [
            (g.name, (g.feedback or g.summary).strip())
            for g in run.gates
            if g.attempt == run.attempts and g.blocking and g.verdict in ("fail", "error")
        ]


def review_queue(store: Store, tasks: list[DemoTask]) -> list[dict[str, Any]]:
    """The demo's tasks that wait for review (what ``overnight review`` lists)."""
    with store.session() as session:
        ready = reads.tasks_with_status(session, [t.id for t in tasks], TaskStatus.READY)
        return [task_summary(task) for task in ready]


def run_demo(directory: Path, store: Store, slots: int = 2) -> list[Outcome]:
    """The demo without a terminal: create, submit, work until done, check."""
    demo = create(directory)
    submit(store, demo)
    worker = start_worker(store, slots)
    worker.join()
    if worker.error is not None:
        raise worker.error
    return check(store, demo.tasks)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None:
        return 0.0
    return ((end or now()) - start).total_seconds()
