"""What one run is about, read once from its task's and run's rows through the
claim's fence: the spec and configuration as submitted, the repository and
branch, the base, the agent, and the reviews that asked for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from overnight.config import ProjectConfig
from overnight.gates.settings import config_from_dict
from overnight.queue import Claim, guard
from overnight.spec import Spec
from overnight.store import Run, Store


@dataclass(frozen=True)
class RunFacts:
    task_id: int
    spec: Spec
    config: ProjectConfig  # the spec's setup, if it has one, in place of the project's
    repo: str
    branch: str
    base_ref: str
    agent: str  # by name (``agents.get_agent``)
    number: int  # the run's
    kind: str  # initial | changes | rebase
    review: str | None  # the changes a review asked of this run
    reviews: list[str]  # the changes reviews asked of earlier runs
    base_sha: str  # as the run was made (a first run that waited may re-pin it)
    created: datetime  # the run's creation: every candidate's commit date

    def commit_message(self) -> str:
        """The candidate's: the spec's title and first paragraph, and the trailers."""
        spec = self.spec
        first = spec.description.strip().split("\n\n")[0] if spec.description else ""
        trailer = f"Overnight-Task: {self.task_id}\nOvernight-Run: {self.number}"
        return "\n\n".join(p for p in (spec.title, first, trailer) if p) + "\n"


def read_facts(store: Store, claim: Claim) -> RunFacts:
    with store.session() as session:
        task = guard(session, claim)
        run = session.get(Run, claim.run_id)
        assert run is not None
        spec, config = Spec.from_dict(task.spec), config_from_dict(task.config)
        if spec.setup is not None:
            config.setup = spec.setup
        earlier = [r for r in task.runs if r.kind == "changes" and r.number < run.number]
        return RunFacts(
            task_id=task.id,
            spec=spec,
            config=config,
            repo=task.repo,
            branch=task.branch,
            base_ref=task.base_ref,
            agent=task.agent,
            number=run.number,
            kind=run.kind,
            review=run.feedback,
            reviews=[r.feedback for r in earlier if r.feedback],
            base_sha=run.base_sha,
            created=run.created_at,
        )
