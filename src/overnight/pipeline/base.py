"""A task that waited for a merge starts on the base after that merge.

``depends_on: [{task: N, until: merged}]`` holds a task until N is merged into
the base branch; the commit pinned at submit is older than that merge. So the
first run of such a task re-pins its base to the base ref's head when it
starts, before any clone is made (the fetch runs outside any database
transaction), and records it on the run and the task, with an event that
``show`` and the dashboard print.
"""

from __future__ import annotations

from overnight.queue import Claim, guard
from overnight.spec import Spec
from overnight.store import Run, Store
from overnight.workspace import RepoCache

EVENT = "base-repinned"


def waited_for_merge(spec: Spec) -> list[int]:
    return [dep.task for dep in spec.depends_on if dep.until == "merged"]


def repin(
    store: Store, claim: Claim, spec: Spec, repo: str, base_ref: str, cache: RepoCache
) -> str | None:
    """The new base sha of a run that waited for a merge (None when it did not)."""
    merged = waited_for_merge(spec)
    if not merged:
        return None
    _, sha = cache.resolve(repo, base_ref)
    tasks = ", ".join(f"task {n}" for n in merged)
    with store.session() as session:
        task = guard(session, claim)
        run = session.get(Run, claim.run_id)
        assert run is not None
        old = run.base_sha
        run.base_sha = task.base_sha = sha
        message = (
            f"base re-pinned to {sha[:10]} ({base_ref}) after {tasks} merged; was {old[:10]}"
            if sha != old
            else f"base {base_ref} still at {sha[:10]} after {tasks} merged"
        )
        store.event(session, task.id, EVENT, message, run.id)
    return sha
