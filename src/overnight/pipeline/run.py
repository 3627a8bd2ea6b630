"""The pipeline for one run of a task:
prepare → baseline → (agent → gates) × attempts → deliver.

The agent edits its own clone; the baseline and every candidate are built and
graded in a separate clone (``grading.py``) that the agent never sees. Each
step is recorded as it starts and ends (``recorder.py``). A run either
delivers (READY) or ends FAILED with a reason naming the step that failed.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from dataclasses import asdict
from functools import partial

from overnight import cost, lifecycle
from overnight.agents import AgentContext, Interrupted, Turn, get_agent
from overnight.config import Bounds
from overnight.errors import (
    InfrastructureError,
    LeaseLost,
    OvernightError,
    SetupError,
    WorkspaceError,
)
from overnight.forges import Delivery, pr_body
from overnight.forges.local import LocalForge
from overnight.gates import (
    Baseline,
    GateContext,
    GateOutcome,
    blocking_failures,
    run_gates,
)
from overnight.gates.feedback import condense
from overnight.gates.hidden import Withholder, hidden_text
from overnight.gates.settings import config_from_dict
from overnight.live import LiveLog
from overnight.masking import Mask
from overnight.pipeline.agent_clone import AgentClone
from overnight.pipeline.base import repin
from overnight.pipeline.baseline import measure_baseline
from overnight.pipeline.carry import brief, conflicts_outcome, leftover_markers
from overnight.pipeline.clock import Clock
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.recorder import Cancelled, Paused, Recorder, RunFailed, StepRecord
from overnight.pipeline.setting import (
    Paths,
    change_refused,
    environment,
    install_failed,
    last_line,
    sandboxes,
)
from overnight.queue import Claim, guard
from overnight.sandbox import Completed
from overnight.spec import Spec
from overnight.store import Run, Store, TaskStatus
from overnight.workspace import RepoCache, Workspace
from overnight.workspace.change import Change


def execute(
    store: Store,
    claim: Claim,
    cancel: threading.Event,
    paths: Paths,
    pause: threading.Event | None = None,
) -> str:
    """Run the claimed task's current run to the end, resuming from its last
    checkpoint; return the task's new status. Raises Paused if ``pause`` is set."""
    return Pipeline(store, claim, cancel, paths, pause).run()


class Pipeline:
    def __init__(
        self,
        store: Store,
        claim: Claim,
        cancel: threading.Event,
        paths: Paths,
        pause: threading.Event | None = None,
    ):
        self.store, self.claim, self.cancel, self.paths = store, claim, cancel, paths
        self.pause = pause or threading.Event()
        self.record = Recorder(store, claim)
        self.done = self.record.checkpoints()  # what earlier starts of this run finished
        with store.session() as session:
            task = guard(session, claim)
            run = session.get(Run, claim.run_id)
            assert run is not None
            self.spec = Spec.from_dict(task.spec)
            self.config = config_from_dict(task.config)
            if self.spec.setup is not None:
                self.config.setup = self.spec.setup
            self.task_id, self.repo, self.branch = task.id, task.repo, task.branch
            self.base_ref, self.agent_name = task.base_ref, task.agent
            self.run_number, self.kind, self.review = run.number, run.kind, run.feedback
            self.base_sha, self.created = run.base_sha, run.created_at
            earlier = [r for r in task.runs if r.kind == "changes" and r.number < run.number]
            self.reviews = [r.feedback for r in earlier if r.feedback]  # requested changes
            resumed = f", resuming after {self.done.describe()}" if self.done.any else ""
            lifecycle.start(session, run, f"run {run.number} started{resumed}")
            taken = "taken over" if claim.takeover else "claimed"
            self.record.progress(task, f"{taken} · {task.title} · run {run.number}{resumed}")
        self.clock: Clock | None = None  # the budget's minutes, from the first attempt
        root = paths.workspace(self.task_id, self.run_number)
        self.work_path, self.meta = root, root.with_suffix(".meta")
        self.grade_path = root.with_suffix(".grade")
        self.carried = False  # the previous run's change replayed without a conflict
        self.conflicts: list[str] = []  # files the replay left to the agent
        self.bounds = Bounds.from_dict(self.config.bounds)
        self.withhold = Withholder(hidden_text(self.spec))  # feedback never quotes hidden tests

    # -- the run -------------------------------------------------------------

    def run(self) -> str:
        try:
            self.repin_base()
            self.prepare()
            self.baseline = self.measure_baseline()
            feedback = self.start_from_previous_run()
            results: list[GateOutcome] = []
            self.clock = Clock(self.spec.budget, self.record.spent_time())
            for attempt in range(1, self.spec.budget.attempts + 1):
                self.clock.check_attempt(attempt, [r.name for r in blocking_failures(results)])
                if attempt in self.done.agent:
                    self.restore_agent_change(attempt)
                elif attempt == 1 and self.carried and self.kind == "rebase":
                    self.record.attempts(attempt)  # the replayed change is this attempt's
                else:
                    self.run_agent(attempt, feedback)
                results, sha = self.grade(attempt)
                tampered = [f"{r.name}: {r.tampered}" for r in results if r.tampered]
                if tampered:  # lying is not a mistake to fix: no feedback, no next attempt
                    raise RunFailed(f"tampered: {'; '.join(tampered)}")
                if sha is not None and not blocking_failures(results):
                    return self.deliver(results, sha, attempt)
                feedback = self.withhold(condense(results))
            failing = ", ".join(r.name for r in blocking_failures(results))
            attempts = self.spec.budget.attempts
            raise RunFailed(f"gates: {failing} failed after {attempts} attempt(s)")
        except RunFailed as exc:
            return self.finish(TaskStatus.FAILED, exc.reason)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InfrastructureError(f"disk full: {exc}") from exc
            raise
        except Cancelled:
            return self.finish(TaskStatus.CANCELLED, "cancelled")
        except SetupError as exc:
            self.record.artifact("setup.log", exc.log)
            return self.finish(TaskStatus.FAILED, f"setup: {exc}")
        except (LeaseLost, InfrastructureError):
            raise
        except OvernightError as exc:
            step = "workspace" if isinstance(exc, WorkspaceError) else "error"
            return self.finish(TaskStatus.FAILED, f"{step}: {exc}")

    def repin_base(self) -> None:
        """A first run that waited for a merge starts on the base after it
        (``base.py``); a resumed one keeps the base its baseline was measured on."""
        if self.kind == "initial" and self.run_number == 1 and not self.done.any:
            cache = RepoCache(self.paths.cache / "repos")
            sha = repin(self.store, self.claim, self.spec, self.repo, self.base_ref, cache)
            self.base_sha = sha or self.base_sha

    def prepare(self) -> None:
        with self.record.step("prepare") as rec:
            cache = RepoCache(self.paths.cache / "repos").fetch(self.repo, self.base_sha)
            grade = Workspace.create(
                cache, self.grade_path, self.base_sha, self.branch, separate=True
            )
            self.grading = GradingClone(grade, self.spec)
            self.pinned = self.grading.pinned()
            self.env = environment(
                self.config, cache, self.base_sha, self.paths.cache / "envs", self.command_timeout()
            )
            assert grade.git_dir is not None
            venv = AgentClone.layer_path(self.work_path) if self.env.path else None
            self.sandbox, self.agent_sandbox = sandboxes(self.config, self.env, grade.git_dir, venv)
            self.agent = AgentClone(
                cache,
                self.work_path,
                self.base_sha,
                self.branch,
                self.env,
                self.agent_sandbox,
                self.bounds,
            )
            self.grading.layer = self.env.layer(self.grade_path) if self.env.path else None
            rec.log = self.env.log
            installed = self.agent.install(self.command_timeout(), self.cancel)
            if installed is not None:
                rec.log += (
                    f"$ {installed.command}\n{installed.output}\n[exit {installed.exit_code}]\n"
                )
            self.check_installed(installed)
            self.agent.apply_patches(self.spec)  # after the install: they are not its products
            state = "built" if self.env.built else "reused from the cache"
            env = "inherited" if self.env.path is None else state
            rec.summary = f"clones at {self.base_sha[:10]}; environment {env}"

    @staticmethod
    def check_installed(done: Completed | None) -> None:
        if done is not None and not done.ok:
            raise RunFailed(
                f"environment: the project does not install from a clone of "
                f"the base: {last_line(done.output)}"
            )

    def measure_baseline(self) -> Baseline:
        self.patched_tree = self.grading.patched_tree()
        if self.done.baseline is not None:  # measured before this run was interrupted
            return Baseline(**self.done.baseline)
        self.check_cancel()
        with self.record.step("baseline") as rec:
            patched = self.grading.check_out_patched()
            installed = self.grading.install(self.sandbox, self.command_timeout(), self.cancel)
            if installed is not None and not installed.ok:
                rec.log = installed.output
                raise RunFailed(
                    f"environment: the project does not install at the base: "
                    f"{last_line(installed.output)}"
                )
            baseline, rec.log = measure_baseline(self.gate_context(Baseline(), [], patched))
            self.grading.reset()
            self.record.baseline(asdict(baseline), json.dumps(asdict(baseline), indent=1))
            rec.summary = (
                f"{len(baseline.passing())} of {len(baseline.tests)} tests pass on "
                f"the base; {len(baseline.lint)} lint finding(s)"
            )
            if baseline.tests_error:
                raise RunFailed(f"environment: {baseline.tests_error}")
            passing = [n for n, o in baseline.acceptance.items() if o == "passed"]
            if passing:
                raise RunFailed(
                    f"baseline: acceptance test(s) already pass on the base, so "
                    f"they prove nothing: {', '.join(passing)}; sharpen the spec"
                )
        return baseline

    def start_from_previous_run(self) -> str:
        """Review and rebase runs start from the previous run's change; returns
        the feedback for the first attempt."""
        parts = (
            [f"A reviewer asked for changes to your previous work:\n{self.review}"]
            if self.review
            else []
        )
        diff = self.record.previous_changes(self.run_number) if self.run_number > 1 else ""
        if diff:
            carried = self.agent.carry(diff)
            if carried.files:
                self.conflicts = carried.files
                parts.append(brief(carried, self.base_sha, self.reviews))
            else:
                self.carried = True
        start = self.take()
        if start.problems:
            raise RunFailed(f"workspace: the starting change is unusable: {start.problems[0]}")
        self.agent.origin = (start.disk_bytes, start.disk_files)
        self.start_tree = self.grading.visible_tree()  # a carried change is checked again
        return "\n\n".join(parts)

    def run_agent(self, attempt: int, feedback: str) -> None:
        self.check_cancel()
        recorded, change = self.record.turns(attempt)  # cut off mid-way by a kill
        if change is not None:
            self.restore_workspace(change)
        self.turn_tree = self.tree()
        assert self.clock is not None
        live = LiveLog(partial(self.record.output, attempt), Mask.of(self.config))
        with (
            self.record.step("agent", attempt) as rec,
            self.clock.part("agent"),
            live,  # output readable as it comes
        ):
            self.meta.mkdir(parents=True, exist_ok=True)
            spec_file = self.meta / "spec.md"
            spec_file.write_text(self.spec.for_agent())
            passthrough = {k: os.environ[k] for k in self.config.agent_env if k in os.environ}
            tokens, usd = self.record.spent(before=attempt)
            budget = self.spec.budget
            context = AgentContext(
                task_id=self.task_id,
                run_number=self.run_number,
                attempt=attempt,
                workspace=self.agent.path,
                spec_file=spec_file,
                feedback=feedback,
                sandbox=self.agent_sandbox,
                environ=self.agent.environ(passthrough),
                timeout=self.agent_timeout(),
                instance_id=self.spec.instance_id,
                cancel=self.cancel,
                pause=self.pause,
                on_turn=self.save_turn,
                recorded_turns=recorded,
                live=live,
                tokens_left=None if budget.tokens is None else budget.tokens - tokens,
                usd_left=None if budget.usd is None or usd is None else budget.usd - usd,
            )
            try:
                result = get_agent(self.agent_name, self.config).run(context)
            except Interrupted:
                raise Paused() from None  # at a turn: it resumes from the recorded turns
            rec.summary, rec.log = result.summary, result.log
            if recorded:
                rec.summary += f" (resumed after turn {recorded[-1].number})"
            self.check_killed()  # an interrupted agent's change is not a checkpoint
            agent_tree = self.tree()
            diff = self.change(agent_tree) if agent_tree else ""
            self.record.agent_change(attempt, diff)
        self.record.attempts(attempt)

    def save_turn(self, turn: Turn) -> None:
        """Record a turn; once it is done, with the workspace's change if it made one."""
        change = None
        if turn.done:
            tree = self.tree()
            if tree and tree != self.turn_tree:
                change, self.turn_tree = self.change(tree), tree
        self.record.turn(turn, change)

    def take(self) -> Change:
        """The agent's change, packed inside the sandbox and checked: data, never files
        the worker reads from the agent's clone."""
        return self.agent.take(self.command_timeout(), self.cancel)

    def tree(self) -> str | None:
        """The tree of the agent's clone as it is now (None: its change is unusable)."""
        change = self.take()
        return None if change.problems else self.grading.import_change(change)

    def change(self, tree: str) -> str:
        """The diff from the base to a tree of the agent's clone."""
        return self.grading.workspace.diff(self.base_sha, tree)

    def restore_agent_change(self, attempt: int) -> None:
        """Put back what the agent did in an attempt recorded before an interruption."""
        self.restore_workspace(self.done.agent[attempt])
        self.record.attempts(attempt)

    def restore_workspace(self, change: str) -> None:
        """The agent's clone as a recorded diff from the base left it."""
        self.check_installed(self.agent.restore(change, self.command_timeout(), self.cancel))

    def grade(self, attempt: int) -> tuple[list[GateOutcome], str | None]:
        self.check_cancel()
        change = self.take()
        if change.problems:
            return self.refuse(change, attempt), None
        agent_tree = self.grading.import_change(change)
        recorded = self.done.gates.get(attempt)
        if recorded is not None:  # graded before an interruption: same tree, same commit
            sha = self.grading.candidate(agent_tree, self.commit_message(), self.created)
            if sha == recorded[0]:
                return recorded[1], sha
        assert self.clock is not None
        with self.record.step("gates", attempt) as rec, self.clock.part("gates"):
            changed = self.grading.changed(self.start_tree, agent_tree)
            sha = self.grading.candidate(agent_tree, self.commit_message(), self.created)
            grade = self.grading.workspace
            self.record.artifact(f"diff-attempt-{attempt}.diff", grade.diff(self.base_sha, sha))
            changes = grade.diff(self.patched_tree, sha)
            self.record.graded_changes(attempt, changes)
            installed = self.grading.install(self.sandbox, self.command_timeout(), self.cancel)
            if installed is not None and not installed.ok:
                results = [install_failed(installed)]
                self.check_time(results, attempt, rec)
                self.record.gates(results, attempt, sha)
                rec.summary = f"{sha[:10]}: {results[0].summary}"
                return results, sha
            ctx = self.gate_context(self.baseline, changed, sha)
            ctx.protected = self.config.protected + self.grading.protected_files()
            results = run_gates(ctx)
            results += self.conflicts_left(sha)
            self.check_killed()  # gates cut short by a kill are no evidence: not recorded
            self.check_time(results, attempt, rec)  # nor are gates cut short by the budget
            self.record.gates(results, attempt, sha)
            failed = blocking_failures(results)
            verdicts = ", ".join(f"{r.name} {r.verdict}" for r in failed)
            rec.summary = f"{sha[:10]}: {verdicts or 'all blocking gates pass'}"
        self.check_cancel()
        return results, sha

    def conflicts_left(self, sha: str) -> list[GateOutcome]:
        """The ``conflicts`` gate, when a marker is left or the run started from conflicts."""
        left = leftover_markers(self.grading.workspace, self.patched_tree, sha)
        outcome = conflicts_outcome(left, self.conflicts)
        return [outcome] if outcome else []

    def refuse(self, change: Change, attempt: int) -> list[GateOutcome]:
        """A change that may not be graded: the ``change`` gate fails, nothing else runs."""
        with self.record.step("gates", attempt) as rec:
            result = change_refused(change)
            self.record.gates([result], attempt, None)
            rec.summary = result.summary
        return [result]

    def deliver(self, results: list[GateOutcome], sha: str, attempt: int) -> str:
        grade = self.grading.workspace
        tokens, usd = self.record.spent(before=attempt + 1)
        with self.record.step("deliver") as rec:
            body = pr_body(
                description=self.spec.description,
                diffstat=grade.diffstat(sha),
                gates=results,
                attempts=attempt,
                run_number=self.run_number,
                base_sha=self.base_sha,
                head_sha=sha,
                task_id=self.task_id,
                review_feedback=self.review,
                tokens=tokens,
                cost=cost.spent(self.agent_name, [usd]),
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
                LocalForge().deliver(session, delivery, grade.path)
            rec.summary = f"pushed {self.branch} at {sha[:10]}; pull request recorded"
        self.record.finish(
            TaskStatus.READY,
            None,
            sha,
            f"READY: {self.branch} at {sha[:10]} after {attempt} attempt(s)",
        )
        return TaskStatus.READY

    def finish(self, status: TaskStatus, reason: str) -> str:
        self.record.finish(status, reason)
        return status

    # -- helpers -------------------------------------------------------------

    def gate_context(self, baseline: Baseline, changed: list[str], sha: str) -> GateContext:
        grade = self.grading.workspace
        return GateContext(
            workspace=grade,
            spec=self.spec,
            config=self.config,
            baseline=baseline,
            sandbox=self.sandbox,
            environ=self.env.environ(grade.path, layer=self.grading.layer),
            changed=changed,
            protected=list(self.config.protected),
            sha=sha,
            timeout=self.command_timeout(),
            cancel=self.cancel,
            repo=self.repo,
            pinned=self.pinned,
        )

    def commit_message(self) -> str:
        first = self.spec.description.strip().split("\n\n")[0] if self.spec.description else ""
        trailer = f"Overnight-Task: {self.task_id}\nOvernight-Run: {self.run_number}"
        return "\n\n".join(p for p in (self.spec.title, first, trailer) if p) + "\n"

    def agent_timeout(self) -> float:
        """What is left for the agent: the budget's rest less the grading reserve
        (``Budget.grading_reserve``), so the gates are not cut short."""
        assert self.clock is not None
        return min(self.config.timeout_minutes * 60, max(self.clock.agent_time(), 1.0))

    def command_timeout(self) -> float:
        """Any one command: ``timeout_minutes``, and within the attempts, what is left."""
        single = self.config.timeout_minutes * 60
        return single if self.clock is None else min(single, max(self.clock.left(), 1.0))

    def check_time(self, results: list[GateOutcome], attempt: int, rec: StepRecord) -> None:
        """Failing gates that ran into the end of the budget: a budget failure."""
        assert self.clock is not None
        if blocking_failures(results) and self.clock.ran_out():
            rec.summary = "cut short: the budget's minutes ran out"
            raise self.clock.cut_short(attempt)

    def check_cancel(self) -> None:
        """At every checkpoint: pause for a stopping worker, stop for a cancel."""
        if self.pause.is_set():
            raise Paused()
        self.check_killed()

    def check_killed(self) -> None:
        """After a step's commands: were they killed (cancel, or a stop past its grace)?"""
        if self.cancel.is_set():
            raise Paused() if self.pause.is_set() else Cancelled()
