"""The pipeline for one run of a task.

Each step is a row (with its log as an artifact) written as it finishes, and
every write goes through the claim's fence, so a worker that lost its lease
cannot record anything. A run either delivers (READY) or ends FAILED with a
reason that says which step failed and why.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from overnight.agents import AgentContext, get_agent
from overnight.config import DEPENDENCY_FILES, ProjectConfig, cache_dir, home
from overnight.environment import Environment, ensure_environment
from overnight.errors import OvernightError, SetupError, WorkspaceError
from overnight.forges import Delivery, pr_body
from overnight.forges.local import LocalForge
from overnight.gates import Baseline, GateContext, GateOutcome, blocking_failures, run_gates
from overnight.gates.feedback import condense
from overnight.pipeline.baseline import measure_baseline
from overnight.queue import Claim, guard, release
from overnight.sandbox import get_sandbox
from overnight.spec import Spec
from overnight.spec.model import patched_files
from overnight.store import GateResult, Run, Step, Store, TaskStatus, now
from overnight.workspace import RepoCache, Workspace, git

log = logging.getLogger(__name__)
IGNORED = [
    ".pytest_cache/",
    "__pycache__/",
    "*.pyc",
    "*.egg-info/",
    ".ruff_cache/",
    ".mypy_cache/",
    ".coverage",
    "build/",
]


@dataclass
class Paths:
    home: Path
    cache: Path

    @classmethod
    def default(cls) -> Paths:
        return cls(home(), cache_dir())

    def workspace(self, task_id: int, run_number: int) -> Path:
        return self.home / "workspaces" / f"{task_id}-r{run_number}"


class RunFailed(Exception):
    """Ends a run as FAILED; ``reason`` starts with the step that failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Cancelled(Exception):
    pass


@dataclass
class StepRecord:
    summary: str = ""
    log: str = ""


def execute(store: Store, claim: Claim, cancel: threading.Event, paths: Paths) -> str:
    """Run the claimed task's current run to the end; return the task's new status."""
    return Pipeline(store, claim, cancel, paths).run()


class Pipeline:
    def __init__(self, store: Store, claim: Claim, cancel: threading.Event, paths: Paths):
        self.store, self.claim, self.cancel, self.paths = store, claim, cancel, paths
        with store.session() as session:
            task = guard(session, claim)
            run = session.get(Run, claim.run_id)
            assert run is not None
            self.spec = Spec.from_dict(task.spec)
            self.config = ProjectConfig.from_dict(task.config)
            self.task_id, self.repo, self.branch = task.id, task.repo, task.branch
            self.base_ref, self.agent_name = task.base_ref, task.agent
            self.run_number, self.kind, self.review = run.number, run.kind, run.feedback
            self.base_sha = run.base_sha
            run.status, run.started_at, run.attempts = "running", now(), 0
            store.event(session, task.id, "run-started", f"run {run.number} started", run.id)
        self.sandbox = get_sandbox(self.config.sandbox)
        self.started = time.monotonic()
        self.deadline = self.started + self.spec.budget.minutes * 60
        self.meta = paths.workspace(self.task_id, self.run_number).with_suffix(".meta")
        self.carried_diff: str | None = None

    # -- the run -------------------------------------------------------------

    def run(self) -> str:
        try:
            self.prepare()
            self.baseline = self.measure_baseline()
            rebased = self.carry_previous_changes()
            feedback = self.initial_feedback(rebased)
            for attempt in range(1, self.spec.budget.attempts + 1):
                self.check_budget(attempt)
                if not (rebased and attempt == 1):
                    self.run_agent(attempt, feedback)
                results, sha = self.grade(attempt)
                if not blocking_failures(results):
                    return self.deliver(results, sha, attempt)
                feedback = condense(results)
                self.hide_hidden_tests()
            failing = ", ".join(r.name for r in blocking_failures(results))
            raise RunFailed(f"gates: {failing} failed after {self.spec.budget.attempts} attempt(s)")
        except RunFailed as exc:
            return self.finish(TaskStatus.FAILED, exc.reason)
        except Cancelled:
            return self.finish(TaskStatus.CANCELLED, "cancelled")
        except SetupError as exc:
            self.artifact("setup.log", exc.log)
            return self.finish(TaskStatus.FAILED, f"setup: {exc}")
        except (WorkspaceError, OvernightError) as exc:
            if type(exc).__name__ == "LeaseLost":
                raise
            return self.finish(TaskStatus.FAILED, f"{_step_of(exc)}: {exc}")

    def prepare(self) -> None:
        with self.step("prepare") as rec:
            cache = RepoCache(self.paths.cache / "repos").fetch(self.repo)
            self.workspace = Workspace.create(
                cache,
                self.paths.workspace(self.task_id, self.run_number),
                self.base_sha,
                self.branch,
            )
            exclude = self.workspace.path / ".git" / "info" / "exclude"
            exclude.parent.mkdir(parents=True, exist_ok=True)
            exclude.write_text("\n".join(IGNORED) + "\n")
            for patch in self.spec.test_patches:
                self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")
            self.patched_tree = self.tree()
            files = _read_files(cache, self.base_sha)
            if self.spec.setup is not None:
                self.config.setup = self.spec.setup
            self.env = self.environment(cache, files)
            rec.log = self.env.log
            state = "built" if self.env.built else "reused from the cache"
            rec.summary = (
                f"workspace at {self.base_sha[:10]}; environment "
                f"{'inherited' if self.env.path is None else state}"
            )

    def environment(self, cache: Path, files: dict[str, str]) -> Environment:
        if self.config.environment == "inherit":
            return Environment(
                None, log="environment: inherit (the worker's own Python; setup commands not run)\n"
            )

        def checkout(source: Path) -> None:
            Workspace.create(cache, source, self.base_sha, "overnight-setup")

        return ensure_environment(
            self.config,
            files,
            self.paths.cache / "envs",
            checkout,
            self.sandbox,
            self.command_timeout(),
        )

    def measure_baseline(self) -> Baseline:
        with self.step("baseline") as rec:
            baseline, rec.log = measure_baseline(self.gate_context(Baseline(), [], self.base_sha))
            self.artifact("baseline.json", json.dumps(asdict(baseline), indent=1))
            rec.summary = (
                f"{len(baseline.passing())} of {len(baseline.tests)} tests pass on "
                f"the base; {len(baseline.lint)} lint finding(s)"
            )
            passing = [n for n, o in baseline.acceptance.items() if o == "passed"]
            if passing:
                raise RunFailed(
                    f"baseline: acceptance test(s) already pass on the base, so they "
                    f"prove nothing: {', '.join(passing)}; sharpen the spec"
                )
            if baseline.tests_error:
                raise RunFailed(f"baseline: {baseline.tests_error}")
        self.hide_hidden_tests()
        self.start_tree = self.tree()
        return baseline

    def carry_previous_changes(self) -> bool:
        """For review and rebase runs, start from the previous run's change."""
        if self.run_number == 1:
            return False
        diff = self.previous_changes()
        if not diff:
            return False
        proc = git(
            ["apply", "--3way", "--whitespace=nowarn", "-"],
            self.workspace.path,
            check=False,
            input=diff + "\n",
        )
        if git(["diff", "--name-only", "--diff-filter=U"], self.workspace.path):
            self.workspace.reset_to(self.base_sha)
            self.carried_diff = None
            for patch in self.spec.visible_patches:
                self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")
            return False
        del proc
        self.carried_diff = diff
        return self.kind == "rebase"

    def initial_feedback(self, rebased: bool) -> str:
        parts = []
        if self.review:
            parts.append(f"A reviewer asked for changes to your previous work:\n{self.review}")
        if self.run_number > 1 and self.carried_diff is None and self.previous_changes():
            parts.append(
                "Your previous change no longer applies to the new base commit "
                f"{self.base_sha[:10]}; redo it on top of the current code."
            )
        return "\n\n".join(parts)

    def run_agent(self, attempt: int, feedback: str) -> None:
        self.check_cancel()
        with self.step("agent", attempt) as rec:
            self.meta.mkdir(parents=True, exist_ok=True)
            spec_file = self.meta / "spec.md"
            spec_file.write_text(self.spec.for_agent())
            agent = get_agent(self.agent_name)
            environ = self.env.environ(
                self.workspace.path, {k: v for k, v in _passthrough(self.config).items()}
            )
            result = agent.run(
                AgentContext(
                    task_id=self.task_id,
                    run_number=self.run_number,
                    attempt=attempt,
                    workspace=self.workspace.path,
                    spec_file=spec_file,
                    feedback=feedback,
                    sandbox=self.sandbox,
                    environ=environ,
                    timeout=self.command_timeout(),
                    instance_id=self.spec.instance_id,
                    cancel=self.cancel,
                )
            )
            rec.summary, rec.log = result.summary, result.log
        with self.store.session() as session:
            guard(session, self.claim)
            run = session.get(Run, self.claim.run_id)
            assert run is not None
            run.attempts = attempt
        self.check_cancel()

    def grade(self, attempt: int) -> tuple[list[GateOutcome], str]:
        with self.step("gates", attempt) as rec:
            changed = self.changed_since(self.start_tree)
            protected = self.protected_files()
            self.workspace.restore(protected)
            for patch in self.spec.test_patches:
                self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")
            sha = self.workspace.commit(self.commit_message())
            self.artifact(f"diff-attempt-{attempt}.diff", self.workspace.diff(sha))
            self.artifact(
                f"changes-attempt-{attempt}.diff",
                git(
                    ["diff", "--binary", "--full-index", self.patched_tree, sha],
                    self.workspace.path,
                ),
            )
            ctx = self.gate_context(self.baseline, changed, sha)
            ctx.protected = self.config.protected + protected
            results = run_gates(ctx)
            self.record_gates(results, attempt, sha)
            failed = blocking_failures(results)
            rec.summary = f"{sha[:10]}: " + (
                ", ".join(f"{r.name} {r.verdict}" for r in failed)
                if failed
                else "all blocking gates pass"
            )
        self.check_cancel()
        return results, sha

    def deliver(self, results: list[GateOutcome], sha: str, attempt: int) -> str:
        with self.step("deliver") as rec:
            body = pr_body(
                description=self.spec.description,
                diffstat=self.workspace.diffstat(sha),
                gates=results,
                attempts=attempt,
                run_number=self.run_number,
                base_sha=self.base_sha,
                head_sha=sha,
                task_id=self.task_id,
                review_feedback=self.review,
            )
            delivery = Delivery(
                self.task_id,
                self.claim.run_id,
                self.repo,
                self.branch,
                self.base_ref,
                self.base_sha,
                sha,
                self.spec.title,
                body,
            )
            with self.store.session() as session:
                guard(session, self.claim)
                LocalForge().deliver(session, delivery, self.workspace.path)
            rec.summary = f"pushed {self.branch} at {sha[:10]}; pull request recorded"
        with self.store.session() as session:
            task = guard(session, self.claim)
            run = session.get(Run, self.claim.run_id)
            assert run is not None
            run.status, run.head_sha, run.finished_at = TaskStatus.READY, sha, now()
            task.status, task.head_sha, task.failure_reason = TaskStatus.READY, sha, None
            task.cancel_requested = False
            release(session, task)
            self.store.event(
                session,
                task.id,
                "ready",
                f"READY: {self.branch} at {sha[:10]} after {attempt} attempt(s)",
                run.id,
            )
        return TaskStatus.READY

    def finish(self, status: str, reason: str) -> str:
        with self.store.session() as session:
            task = guard(session, self.claim)
            run = session.get(Run, self.claim.run_id)
            assert run is not None
            run.status, run.failure_reason, run.finished_at = status, reason, now()
            task.status, task.failure_reason, task.cancel_requested = status, reason, False
            release(session, task)
            self.store.event(session, task.id, status, f"{status.upper()}: {reason}", run.id)
        return status

    # -- helpers -------------------------------------------------------------

    @contextmanager
    def step(self, name: str, attempt: int = 0) -> Iterator[StepRecord]:
        with self.store.session() as session:
            guard(session, self.claim)
            row = Step(run_id=self.claim.run_id, name=name, attempt=attempt)
            session.add(row)
            session.flush()
            step_id = row.id
            label = f"{name} (attempt {attempt})" if attempt else name
            self.store.event(session, self.task_id, "step", f"{label} started", self.claim.run_id)
        record, status = StepRecord(), "done"
        try:
            yield record
        except BaseException as exc:
            status = "failed"
            record.summary = record.summary or str(exc)
            raise
        finally:
            with self.store.session() as session:
                guard(session, self.claim)
                row = session.get(Step, step_id)
                assert row is not None
                row.status, row.summary, row.finished_at = status, record.summary, now()
                if record.log:
                    row.log_id = self.store.artifact(
                        session,
                        self.task_id,
                        f"step-{name}-{attempt}.log",
                        record.log,
                        self.claim.run_id,
                    )
                self.store.event(
                    session,
                    self.task_id,
                    "step",
                    f"{label} {status}: {record.summary}",
                    self.claim.run_id,
                )

    def record_gates(self, results: list[GateOutcome], attempt: int, sha: str) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            for r in results:
                log_id = (
                    self.store.artifact(
                        session,
                        self.task_id,
                        f"gate-{r.name}-{attempt}.log",
                        r.log,
                        self.claim.run_id,
                    )
                    if r.log
                    else None
                )
                session.add(
                    GateResult(
                        run_id=self.claim.run_id,
                        attempt=attempt,
                        name=r.name,
                        verdict=r.verdict,
                        blocking=r.blocking,
                        command=r.command,
                        exit_code=r.exit_code,
                        duration=r.duration,
                        summary=r.summary,
                        feedback=r.feedback,
                        sha=sha,
                        log_id=log_id,
                    )
                )

    def artifact(self, name: str, content: str) -> None:
        with self.store.session() as session:
            guard(session, self.claim)
            self.store.artifact(session, self.task_id, name, content, self.claim.run_id)

    def gate_context(self, baseline: Baseline, changed: list[str], sha: str) -> GateContext:
        return GateContext(
            workspace=self.workspace,
            spec=self.spec,
            config=self.config,
            baseline=baseline,
            sandbox=self.sandbox,
            environ=self.env.environ(self.workspace.path),
            changed=changed,
            protected=list(self.config.protected),
            sha=sha,
            timeout=self.command_timeout(),
            cancel=self.cancel,
        )

    def protected_files(self) -> list[str]:
        """Acceptance test files: those the patches touch and those named by node ids."""
        files = {f for p in self.spec.test_patches for f in patched_files(p.text)}
        for node in self.spec.acceptance_tests:
            path = node.split("::", 1)[0]
            if self.workspace.file_at_base(path) is not None:
                files.add(path)
        return sorted(files)

    def hide_hidden_tests(self) -> None:
        for patch in reversed(self.spec.hidden_patches):
            git(["apply", "-R", "--whitespace=nowarn", "-"], self.workspace.path, input=patch.text)

    def previous_changes(self) -> str:
        from sqlalchemy import select

        from overnight.store import Artifact

        with self.store.session() as session:
            previous = session.scalars(
                select(Run).where(Run.task_id == self.task_id, Run.number == self.run_number - 1)
            ).first()
            if previous is None:
                return ""
            row = session.scalars(
                select(Artifact)
                .where(Artifact.run_id == previous.id, Artifact.name.like("changes-attempt-%"))
                .order_by(Artifact.id.desc())
            ).first()
            return row.content if row else ""

    def tree(self) -> str:
        git(["add", "--all"], self.workspace.path)
        return git(["write-tree"], self.workspace.path)

    def changed_since(self, tree: str) -> list[str]:
        git(["add", "--all"], self.workspace.path)
        out = git(["diff", "--cached", "--name-only", "--no-renames", tree], self.workspace.path)
        return [line for line in out.splitlines() if line]

    def commit_message(self) -> str:
        first = self.spec.description.strip().split("\n\n")[0] if self.spec.description else ""
        trailer = f"Overnight-Task: {self.task_id}\nOvernight-Run: {self.run_number}"
        return (
            f"{self.spec.title}\n\n{first}\n\n{trailer}\n"
            if first
            else f"{self.spec.title}\n\n{trailer}\n"
        )

    def command_timeout(self) -> float:
        remaining = max(self.deadline - time.monotonic(), 1.0)
        return min(self.config.timeout_minutes * 60, remaining)

    def check_budget(self, attempt: int) -> None:
        if time.monotonic() > self.deadline:
            raise RunFailed(
                f"budget: {self.spec.budget.minutes:g} minute(s) spent before attempt {attempt}"
            )

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


def _read_files(cache: Path, sha: str) -> dict[str, str]:
    from overnight.workspace import read_files

    return read_files(cache, sha, DEPENDENCY_FILES)


def _passthrough(config: ProjectConfig) -> dict[str, str]:
    import os

    return {k: os.environ[k] for k in config.agent_env if k in os.environ}


def _step_of(exc: Exception) -> str:
    return "workspace" if isinstance(exc, WorkspaceError) else "error"
