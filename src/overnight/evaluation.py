"""Evaluation on SWE-bench-format instances.

Each JSONL line becomes a task whose acceptance tests are the instance's
FAIL_TO_PASS, graded with its ``test_patch`` applied and hidden from the
agent, with PASS_TO_PASS as the regression set. A worker in this process
drains the queue, then the results are reported per instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from overnight.errors import UsageError
from overnight.intake import submit_spec
from overnight.spec import Spec, TestPatch
from overnight.spec.lint import NODE_ID
from overnight.store import Store, Task
from overnight.views import task_summary
from overnight.worker import Worker

REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS")


def load_instances(path: Path) -> list[dict[str, Any]]:
    instances = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            raise UsageError(f"{path}:{number}: missing {', '.join(missing)}")
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            if isinstance(item.get(key), str):  # SWE-bench stores these as JSON strings
                item[key] = json.loads(item[key])
        bad = [
            n for n in item["FAIL_TO_PASS"] + item.get("PASS_TO_PASS", []) if not NODE_ID.match(n)
        ]
        if bad:
            raise UsageError(f"{path}:{number}: not pytest node ids: {', '.join(bad[:3])}")
        instances.append(item)
    if not instances:
        raise UsageError(f"{path} has no instances")
    return instances


def instance_spec(item: dict[str, Any]) -> Spec:
    return Spec(
        title=f"{item['instance_id']}: " + item["problem_statement"].strip().splitlines()[0][:100],
        description=item["problem_statement"],
        repo=item["repo"],
        base=item["base_commit"],
        acceptance_tests=list(item["FAIL_TO_PASS"]),
        test_patches=[TestPatch(path="test_patch", text=item["test_patch"], hidden=True)],
        regression=list(item.get("PASS_TO_PASS") or []) or "none",
        setup=list(item["install"]) if item.get("install") is not None else None,
        test_cmd=item.get("test_cmd"),
        instance_id=item["instance_id"],
    )


def run_eval(store: Store, path: Path, *, agent: str | None, slots: int = 1) -> list[dict]:
    instances = load_instances(path)
    ids = {}
    for item in instances:
        spec = instance_spec(item)
        text = (
            "---\n"
            + yaml.safe_dump(
                {"instance": item["instance_id"], "repo": spec.repo, "base": spec.base}
            )
            + "---\n"
            + spec.description
        )
        task = submit_spec(store, spec, text, base_dir=path.parent, agent=agent).task
        ids[item["instance_id"]] = task.id
    Worker(store, slots=slots).run(drain=True)
    rows = []
    with store.session() as session:
        for instance_id, task_id in ids.items():
            task = session.scalars(select(Task).where(Task.id == task_id)).one()
            summary = task_summary(task)
            run = task.runs[-1]
            seconds = (
                (run.finished_at - run.started_at).total_seconds()
                if run.finished_at and run.started_at
                else 0.0
            )
            rows.append(
                {
                    "instance_id": instance_id,
                    "task_id": task_id,
                    "status": summary["status"],
                    "failing_gates": summary["failing_gates"],
                    "failure_reason": task.failure_reason,
                    "seconds": seconds,
                }
            )
    return rows
