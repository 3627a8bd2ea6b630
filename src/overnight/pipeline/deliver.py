"""The deliver step: the graded candidate pushed as the task's branch, with a pull
request whose body lists each gate, the diffstat and what the run spent."""

from __future__ import annotations

from overnight import cost
from overnight.forges import Delivery, pr_body
from overnight.forges.local import LocalForge
from overnight.gates import GateOutcome
from overnight.pipeline.facts import RunFacts
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.recorder import Recorder
from overnight.store import TaskStatus


def deliver(
    record: Recorder,
    facts: RunFacts,
    grading: GradingClone,
    base_sha: str,
    results: list[GateOutcome],
    sha: str,
    attempt: int,
) -> TaskStatus:
    """Deliver candidate ``sha`` of ``attempt``, and end the run READY."""
    tokens, usd = record.spent(before=attempt + 1)
    with record.step("deliver") as rec:
        body = pr_body(
            description=facts.spec.description,
            diffstat=grading.diffstat(sha),
            gates=results,
            attempts=attempt,
            run_number=facts.number,
            base_sha=base_sha,
            head_sha=sha,
            task_id=facts.task_id,
            review_feedback=facts.review,
            tokens=tokens,
            cost=cost.spent(facts.agent, [usd]),
        )
        delivery = Delivery(
            facts.task_id,
            record.run_id,
            facts.repo,
            facts.branch,
            facts.base_ref,
            base_sha,
            sha,
            facts.spec.title,
            body,
        )
        record.deliver(LocalForge(), delivery, grading.path)
        rec.summary = f"pushed {facts.branch} at {sha[:10]}; pull request recorded"
    message = f"READY: {facts.branch} at {sha[:10]} after {attempt} attempt(s)"
    record.finish(TaskStatus.READY, None, sha, message)
    return TaskStatus.READY
