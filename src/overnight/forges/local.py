"""The ``local`` forge: the branch is pushed into the user's repository and the
pull request is a row in the store. Idempotent per run: delivering a run twice
updates nothing twice."""

from __future__ import annotations

from pathlib import Path

from overnight.forges import BaseForge, Delivery
from overnight.store import PullRequest, Session, pull_requests
from overnight.workspace import push_branch


class LocalForge(BaseForge):
    name = "local"

    def deliver(self, session: Session, delivery: Delivery, workspace: Path) -> PullRequest:
        existing = pull_requests.of_run(session, delivery.run_id)
        if existing is not None and existing.head_sha == delivery.head_sha:
            return existing
        push_branch(workspace, delivery.repo, delivery.head_sha, delivery.branch)
        pr = existing or PullRequest(task_id=delivery.task_id, run_id=delivery.run_id)
        pr.forge, pr.branch, pr.base_branch = self.name, delivery.branch, delivery.base_branch
        pr.head_sha, pr.title, pr.body = delivery.head_sha, delivery.title, delivery.body
        session.add(pr)
        # earlier runs' pull requests are superseded by this one
        for old in pull_requests.open_of_task(session, delivery.task_id):
            if old.run_id != delivery.run_id:
                old.state = "closed"
        return pr
