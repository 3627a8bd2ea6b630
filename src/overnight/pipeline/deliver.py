"""The deliver step: the graded candidate pushed as the task's branch, with a pull
request whose body lists each gate, the diffstat and what the run spent.

The forge the project names (``[forge]``; ``local`` by default) is asked outside
any transaction, with the body masked before it leaves; what it answers is
recorded after, through the claim's fence. A pull request that someone closed
on the forge (not merged) is not reopened by a later run: that run fails and
says so. Delivering is idempotent on every
forge (the branch is pushed only if it is not at the commit; the branch's one
open pull request is found and updated), so a run that crashed between the
call and the record delivers again without a second pull request.
"""

from __future__ import annotations

import os

from overnight import cost
from overnight.forges import pr_body
from overnight.forges.registry import build_forge
from overnight.gates import GateOutcome
from overnight.masking import Mask
from overnight.pipeline.facts import RunFacts
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.recorder import Recorder, RunFailed
from overnight.store import TaskStatus

DASHBOARD_ENV = "OVERNIGHT_DASHBOARD_URL"  # the pull request links to the task's page there


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
            dashboard=os.environ.get(DASHBOARD_ENV, ""),
        )
        body = Mask.of(facts.config).text(body)
        forge = build_forge(facts.config.forge, repo=facts.repo, base=facts.base_ref)
        earlier = record.pull_number(forge.name)
        try:
            if earlier is not None and forge.state(earlier) == "closed":
                raise RunFailed(
                    f"deliver: pull request #{earlier} was closed on {forge.name} by someone "
                    f"else: reopen it and run 'overnight retry {facts.task_id}', or reject the task"
                )
            published = forge.deliver(
                grading.path,
                branch=facts.branch,
                base=facts.base_ref,
                sha=sha,
                title=facts.spec.title,
                body=body,
            )
        finally:
            forge.disconnect()
        record.pull_request(forge.name, facts, sha, body, published)
        where = f"pull request {published.url}" if published.url else "pull request recorded"
        rec.summary = f"pushed {facts.branch} at {sha[:10]}; {where}"
    message = f"READY: {facts.branch} at {sha[:10]} after {attempt} attempt(s)"
    record.finish(TaskStatus.READY, None, sha, message)
    return TaskStatus.READY
