"""The pipeline for one run of a task:
prepare → baseline → (agent → gates) × attempts → deliver.

The agent edits its own clone; the baseline and every candidate are built and
graded in a separate clone (``grading.py``) that the agent never sees. Each
step is recorded as it starts and ends (``recorder.py``). A run either
delivers (READY) or ends FAILED with a reason naming the step that failed.
"""

from __future__ import annotations

import errno
import threading
from dataclasses import asdict

from overnight import ratelimit
from overnight.config import Bounds
from overnight.environment import Environment
from overnight.errors import (
    InfrastructureError,
    LeaseLost,
    OvernightError,
    SetupError,
    WorkspaceError,
)
from overnight.gates import (
    Baseline,
    GateContext,
    GateOutcome,
    blocking_failures,
    run_gates,
)
from overnight.gates.feedback import condense
from overnight.gates.hidden import Withholder, hidden_text
from overnight.gates.pytest_run import Pinned
from overnight.pipeline.agent_clone import AgentClone
from overnight.pipeline.attempt import AgentAttempts, Stops, check_installed
from overnight.pipeline.base import repin
from overnight.pipeline.baseline import measure_baseline
from overnight.pipeline.carry import brief, conflicts_outcome
from overnight.pipeline.clock import Clock
from overnight.pipeline.deliver import deliver
from overnight.pipeline.facts import read_facts
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.recorder import Cancelled, Recorder, RunFailed, StepRecord
from overnight.pipeline.setting import (
    Paths,
    change_refused,
    environment,
    install_failed,
    last_line,
    sandboxes,
)
from overnight.queue import Claim
from overnight.sandbox import Sandbox
from overnight.store import Store, TaskStatus
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
        self.store, self.claim, self.paths = store, claim, paths
        self.record = Recorder(store, claim)
        self.done = self.record.checkpoints()  # what earlier starts of this run finished
        self.facts = read_facts(store, claim)
        self.base_sha = self.facts.base_sha  # a first run that waited may re-pin it
        self.stops = Stops(cancel, pause or threading.Event())
        self.clock: Clock | None = None  # the budget's minutes, from the first attempt
        root = paths.workspace(self.facts.task_id, self.facts.number)
        self.work_path, self.grade_path = root, root.with_suffix(".grade")
        self.carried = False  # the previous run's change replayed without a conflict
        self.conflicts: list[str] = []  # files the replay left to the agent
        self.bounds = Bounds.from_dict(self.facts.config.bounds)
        # feedback never quotes hidden tests
        self.withhold = Withholder(hidden_text(self.facts.spec))
        # made by prepare()
        self.grading: GradingClone
        self.pinned: Pinned
        self.env: Environment
        self.sandbox: Sandbox  # the gates'
        self.agent: AgentClone
        self.attempts: AgentAttempts
        # measured by measure_baseline() and start_from_previous_run()
        self.baseline: Baseline
        self.patched_tree: str  # the base with every test patch
        self.start_tree: str  # the base with the visible test patches: where the agent starts

    # -- the run -------------------------------------------------------------

    def run(self) -> str:
        resumed = f", resuming after {self.done.describe()}" if self.done.any else ""
        self.record.start(resumed)
        try:
            self.repin_base()
            self.prepare()
            self.baseline = self.measure_baseline()
            feedback = self.start_from_previous_run()
            results: list[GateOutcome] = []
            self.clock = Clock(self.facts.spec.budget, self.record.spent_time())
            for attempt in range(1, self.facts.spec.budget.attempts + 1):
                self.clock.check_attempt(attempt, [r.name for r in blocking_failures(results)])
                if attempt in self.done.agent:
                    self.attempts.restore(self.done.agent[attempt])
                    self.record.attempts(attempt)  # recorded before an interruption
                elif attempt == 1 and self.carried and self.facts.kind == "rebase":
                    self.record.attempts(attempt)  # the replayed change is this attempt's
                else:
                    self.stops.at_checkpoint()
                    self.attempts.run(attempt, feedback, self.clock, self.agent_timeout)
                results, sha = self.grade(attempt)
                tampered = [f"{r.name}: {r.tampered}" for r in results if r.tampered]
                if tampered:  # lying is not a mistake to fix: no feedback, no next attempt
                    raise RunFailed(f"tampered: {'; '.join(tampered)}")
                if sha is not None and not blocking_failures(results):
                    grading, base = self.grading, self.base_sha
                    return deliver(self.record, self.facts, grading, base, results, sha, attempt)
                feedback = self.withhold(condense(results))
            failing = ", ".join(r.name for r in blocking_failures(results))
            attempts = self.facts.spec.budget.attempts
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
        if self.facts.kind == "initial" and self.facts.number == 1 and not self.done.any:
            cache, facts = RepoCache(self.paths.cache / "repos"), self.facts
            sha = repin(self.store, self.claim, facts.spec, facts.repo, facts.base_ref, cache)
            self.base_sha = sha or self.base_sha

    def prepare(self) -> None:
        with self.record.step("prepare") as rec:
            cache = RepoCache(self.paths.cache / "repos").fetch(self.facts.repo, self.base_sha)
            grade = Workspace.create(
                cache, self.grade_path, self.base_sha, self.facts.branch, separate=True
            )
            self.grading = GradingClone(grade, self.facts.spec)
            self.pinned = self.grading.pinned()
            self.env = environment(
                self.facts.config,
                cache,
                self.base_sha,
                self.paths.cache / "envs",
                self.command_timeout(),
            )
            assert grade.git_dir is not None
            venv = AgentClone.layer_path(self.work_path) if self.env.path else None
            self.sandbox, agent_sandbox = sandboxes(
                self.facts.config, self.env, grade.git_dir, venv
            )
            self.agent = AgentClone(
                cache,
                self.work_path,
                self.base_sha,
                self.facts.branch,
                self.env,
                agent_sandbox,
                self.bounds,
            )
            self.attempts = AgentAttempts(
                self.record,
                self.agent,
                self.grading,
                self.stops,
                self.command_timeout,
                self.facts,
                self.work_path.with_suffix(".meta"),
            )
            self.grading.layer = self.env.layer(self.grade_path) if self.env.path else None
            rec.log = self.env.log
            installed = self.agent.install(self.command_timeout(), self.stops.cancel)
            if installed is not None:
                rec.log += (
                    f"$ {installed.command}\n{installed.output}\n[exit {installed.exit_code}]\n"
                )
            check_installed(installed)
            # after the install: the patches are not its products
            self.agent.apply_patches(self.facts.spec)
            state = "built" if self.env.built else "reused from the cache"
            env = "inherited" if self.env.path is None else state
            rec.summary = f"clones at {self.base_sha[:10]}; environment {env}"

    def measure_baseline(self) -> Baseline:
        self.patched_tree = self.grading.patched_tree()
        if self.done.baseline is not None:  # measured before this run was interrupted
            return Baseline(**self.done.baseline)
        self.stops.at_checkpoint()
        with self.record.step("baseline") as rec:
            patched = self.grading.check_out_patched()
            installed = self.grading.install(
                self.sandbox, self.command_timeout(), self.stops.cancel
            )
            if installed is not None and not installed.ok:
                rec.log = installed.output
                raise RunFailed(
                    f"environment: the project does not install at the base: "
                    f"{last_line(installed.output)}"
                )
            baseline, rec.log = measure_baseline(self.gate_context(Baseline(), [], patched))
            self.grading.reset()
            self.record.baseline(asdict(baseline))
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
            [f"A reviewer asked for changes to your previous work:\n{self.facts.review}"]
            if self.facts.review
            else []
        )
        diff = self.record.previous_changes(self.facts.number) if self.facts.number > 1 else ""
        if diff:
            carried = self.agent.carry(diff)
            if carried.files:
                self.conflicts = carried.files
                parts.append(brief(carried, self.base_sha, self.facts.reviews))
            else:
                self.carried = True
        start = self.attempts.take()
        if start.problems:
            raise RunFailed(f"workspace: the starting change is unusable: {start.problems[0]}")
        self.agent.origin = (start.disk_bytes, start.disk_files)
        self.start_tree = self.grading.visible_tree()  # a carried change is checked again
        return "\n\n".join(parts)

    def grade(self, attempt: int) -> tuple[list[GateOutcome], str | None]:
        self.stops.at_checkpoint()
        change = self.attempts.take()
        if change.problems:
            return self.refuse(change, attempt), None
        agent_tree = self.grading.import_change(change)
        recorded = self.done.gates.get(attempt)
        if recorded is not None:  # graded before an interruption: same tree, same commit
            sha = self.grading.candidate(
                agent_tree, self.facts.commit_message(), self.facts.created
            )
            if sha == recorded[0]:
                return recorded[1], sha
        assert self.clock is not None
        with self.record.step("gates", attempt) as rec, self.clock.part("gates"):
            changed = self.grading.changed(self.start_tree, agent_tree)
            sha = self.grading.candidate(
                agent_tree, self.facts.commit_message(), self.facts.created
            )
            self.record.artifact(f"diff-attempt-{attempt}.diff", self.grading.from_base(sha))
            self.record.graded_changes(attempt, self.grading.changes(sha))
            timeout = self.command_timeout()
            installed = self.grading.install(self.sandbox, timeout, self.stops.cancel)
            if installed is not None and not installed.ok:
                results = [install_failed(installed)]
                self.check_time(results, attempt, rec)
                self.record.gates(results, attempt, sha)
                rec.summary = f"{sha[:10]}: {results[0].summary}"
                return results, sha
            ctx = self.gate_context(self.baseline, changed, sha)
            ctx.protected = self.facts.config.protected + self.grading.protected_files()
            results = run_gates(ctx)
            results += self.conflicts_left(sha)
            self.stops.after_commands()  # gates cut short by a kill are no evidence: not recorded
            self.check_time(results, attempt, rec)  # nor are gates cut short by the budget
            self.record.gates(results, attempt, sha)
            failed = blocking_failures(results)
            verdicts = ", ".join(f"{r.name} {r.verdict}" for r in failed)
            rec.summary = f"{sha[:10]}: {verdicts or 'all blocking gates pass'}"
        self.stops.at_checkpoint()
        return results, sha

    def conflicts_left(self, sha: str) -> list[GateOutcome]:
        """The ``conflicts`` gate, when a marker is left or the run started from conflicts."""
        outcome = conflicts_outcome(self.grading.markers_left(sha), self.conflicts)
        return [outcome] if outcome else []

    def refuse(self, change: Change, attempt: int) -> list[GateOutcome]:
        """A change that may not be graded: the ``change`` gate fails, nothing else runs."""
        with self.record.step("gates", attempt) as rec:
            result = change_refused(change)
            self.record.gates([result], attempt, None)
            rec.summary = result.summary
        return [result]

    def finish(self, status: TaskStatus, reason: str) -> str:
        self.record.finish(status, reason)
        return status

    # -- helpers -------------------------------------------------------------

    def gate_context(self, baseline: Baseline, changed: list[str], sha: str) -> GateContext:
        grade = self.grading.workspace
        return GateContext(
            workspace=grade,
            spec=self.facts.spec,
            config=self.facts.config,
            baseline=baseline,
            sandbox=self.sandbox,
            environ=self.env.environ(grade.path, layer=self.grading.layer),
            changed=changed,
            protected=list(self.facts.config.protected),
            sha=sha,
            timeout=self.command_timeout(),
            cancel=self.stops.cancel,
            repo=self.facts.repo,
            pinned=self.pinned,
            rate_limit=ratelimit.Limiter(self.store),  # shared with every other worker
        )

    def agent_timeout(self) -> float:
        """What is left for the agent: the budget's rest less the grading reserve
        (``Budget.grading_reserve``), so the gates are not cut short."""
        assert self.clock is not None
        return min(self.facts.config.timeout_minutes * 60, max(self.clock.agent_time(), 1.0))

    def command_timeout(self) -> float:
        """Any one command: ``timeout_minutes``, and within the attempts, what is left."""
        single = self.facts.config.timeout_minutes * 60
        return single if self.clock is None else min(single, max(self.clock.left(), 1.0))

    def check_time(self, results: list[GateOutcome], attempt: int, rec: StepRecord) -> None:
        """Failing gates that ran into the end of the budget: a budget failure."""
        assert self.clock is not None
        if blocking_failures(results) and self.clock.ran_out():
            rec.summary = "cut short: the budget's minutes ran out"
            raise self.clock.cut_short(attempt)
