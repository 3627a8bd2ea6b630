"""Each corpus project graded by overnight end to end, in the default sandbox.

For every project in ``projects/``: the user's repository is built from the
vendored sdist (extracted, committed, tagged with its version), and its
instance is run twice through the path ``overnight eval run`` takes (each
instance becomes a task with hidden acceptance tests, drained by a worker):

- with a command agent that applies the real upstream fix (the patch travels
  inside the command, since only the workspace is visible in the sandbox): it
  must end READY;
- with a no-op agent: it must end FAILED because the acceptance tests fail,
  never for the environment, the setup, an error or another gate.

The sandbox is ``auto`` (bwrap), as a worker runs by default;
``OVERNIGHT_CONFORMANCE_SANDBOX`` names another (``none``) to compare. One
environment cache is shared by the whole session, so each project installs
once. Run it with ``pytest -m conformance tests/conformance``.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus import Project, build_repo, load, names
from sqlalchemy import select

from overnight.evaluation import instance_spec
from overnight.intake import submit_spec
from overnight.store import Artifact, GateResult, Step, Store, Task
from overnight.task_list import task_summary
from overnight.views import task_detail
from overnight.worker import Worker

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

GOLD, NOOP = "-gold", "-nochange"
# the right reason for the no-op agent's failure: the tests gate, and nothing else
NOOP_REASON = "gates: tests failed"


@pytest.fixture
def sandbox(store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default sandbox (the ``home`` fixture sets ``none`` for other tests)."""
    name = os.environ.get("OVERNIGHT_CONFORMANCE_SANDBOX", "auto")
    monkeypatch.setenv("OVERNIGHT_SANDBOX", name)
    return name


def gold_agent(project: Project) -> str:
    """A command agent that applies the real fix to the gold instance's workspace only."""
    patch = base64.b64encode(project.instance["patch"].encode()).decode()
    gold = shlex.quote(project.instance["instance_id"] + GOLD)
    return (
        f'command:if [ "$OVERNIGHT_INSTANCE_ID" = {gold} ]; then '
        f"printf %s {patch} | base64 -d | git apply; fi"
    )


def submit(store: Store, item: dict[str, Any], agent: str, base_dir: Path) -> int:
    """What ``run_eval`` does for one instance, with one attempt: a retry of an agent
    that always gives the same answer proves nothing more and costs a grading."""
    spec = instance_spec(item)
    spec.budget.attempts = 1
    front = {"instance": item["instance_id"], "repo": spec.repo, "base": spec.base}
    text = "---\n" + yaml.safe_dump(front) + "---\n" + spec.description
    return submit_spec(store, spec, text, base_dir=base_dir, agent=agent).task.id


def describe(store: Store, task_id: int, logs: bool) -> str:
    """What a person needs to see why a task ended as it did: the reason, the steps
    and the gates of the last attempt; with ``logs``, the tails of the setup log, of
    the baseline's log and of each failing gate's log."""
    with store.session() as session:
        task = session.scalars(select(Task).where(Task.id == task_id)).one()
        run = task_detail(session, task, diff=False)["runs"][-1]
        lines = [f"{task.instance_id}: {task.status} ({task.failure_reason})"]
        for step in run["steps"]:
            summary = (step["summary"] or "")[:160]
            took = f"{step['duration']:.1f} s" if step["duration"] is not None else "-"
            lines.append(
                f"  step {step['name']}#{step['attempt']} {step['status']} ({took}): {summary}"
            )
        for gate in run["gates"]:
            lines.append(
                f"  gate {gate['name']} {gate['verdict']} ({gate['duration']} s): {gate['summary']}"
            )
        if not logs:
            return "\n".join(lines)
        last = task.runs[-1].id
        named = [
            (
                "setup.log",
                session.scalars(
                    select(Artifact).where(
                        Artifact.task_id == task_id, Artifact.name == "setup.log"
                    )
                ).first(),
            ),
            *(
                (f"step {s.name}", session.get(Artifact, s.log_id) if s.log_id else None)
                for s in session.scalars(select(Step).where(Step.run_id == last)).all()
                if s.name == "baseline" or s.status != "done"
            ),
            *(
                (f"gate {g.name}", session.get(Artifact, g.log_id) if g.log_id else None)
                for g in session.scalars(select(GateResult).where(GateResult.run_id == last))
                if g.verdict in ("fail", "error")
            ),
        ]
        for name, log in named:
            if log is not None:
                lines.append(f"  --- {name} log (tail) ---\n{tail(log.content)}")
    return "\n".join(lines)


def baseline_problems(store: Store, task_id: int, instance: dict[str, Any]) -> list[str]:
    """How the baseline differs from a plain venv's run of the base (verify.py): there,
    each FAIL_TO_PASS test fails (an assertion, not an import error) and each
    PASS_TO_PASS test passes. A no-op that fails the tests gate for another reason
    (a collection error, a test not found) fails it for the wrong reason."""
    with store.session() as session:
        row = session.scalars(
            select(Artifact).where(Artifact.task_id == task_id, Artifact.name == "baseline.json")
        ).first()
    if row is None:
        return ["no baseline recorded"]
    baseline = json.loads(row.content)
    problems = [
        f"{node} {outcome} on the base (a plain venv: failed)"
        for node, outcome in baseline["acceptance"].items()
        if outcome != "failed"
    ]
    for node in instance["PASS_TO_PASS"]:
        outcome = outcome_of(baseline["tests"], node)
        if outcome != "passed":
            problems.append(f"{node} {outcome} on the base (a plain venv: passed)")
    return problems


def outcome_of(tests: dict[str, dict], node: str) -> str:
    """A node id's outcome; for a parametrized test named without its parameters,
    the worst of its cases' (as overnight reads it)."""
    if node in tests:
        return tests[node]["outcome"]
    cases = [v["outcome"] for k, v in tests.items() if k.startswith(node + "[")]
    worst = ("error", "failed", "xpassed", "skipped", "xfailed", "passed")
    return next((o for o in worst if o in cases), "missing")


def tail(text: str, count: int = 40) -> str:
    """The last lines of a log, long lines cut."""
    return "\n".join(line[:300] for line in text.splitlines()[-count:])


@pytest.mark.parametrize("name", names())
def test_the_real_fix_is_ready_and_no_change_fails_the_acceptance_tests(
    name: str, store: Store, sandbox: str, tmp_path: Path
):
    project = load(name)
    repo, base = build_repo(project, tmp_path / "repo")
    started = time.monotonic()
    ids = {
        suffix: submit(
            store, project.instance_for(repo, base, suffix), gold_agent(project), tmp_path
        )
        for suffix in (GOLD, NOOP)
    }
    Worker(store, slots=2).run(drain=True)
    with store.session() as session:
        rows = {
            suffix: task_summary(session.scalars(select(Task).where(Task.id == i)).one())
            for suffix, i in ids.items()
        }
    gold, noop = rows[GOLD], rows[NOOP]
    wrong_base = baseline_problems(store, ids[NOOP], project.instance)
    expected = {
        GOLD: gold["status"] == "ready",
        NOOP: not wrong_base and noop["failing_gates"] == ["tests"],
    }
    report = "\n".join(describe(store, i, logs=not expected[s]) for s, i in ids.items())
    print(f"\n[{name}] sandbox={sandbox} {time.monotonic() - started:.1f} s\n{report}")

    problems = [f"baseline: {p}" for p in wrong_base]
    if gold["status"] != "ready":
        problems.append(f"the real fix ended {gold['status']}: {gold['failure_reason']}")
    if noop["status"] != "failed" or not (noop["failure_reason"] or "").startswith(NOOP_REASON):
        problems.append(f"no change ended {noop['status']}: {noop['failure_reason']}")
    elif noop["failing_gates"] != ["tests"]:
        problems.append(f"no change failed other gates too: {noop['failing_gates']}")
    assert not problems, "; ".join(problems) + "\n" + report
