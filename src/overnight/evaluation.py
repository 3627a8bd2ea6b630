"""Evaluation on SWE-bench-format instances.

Each instance (a line of a JSONL file, or an item of a JSON list) becomes a
task whose acceptance tests are the instance's FAIL_TO_PASS, graded with its
``test_patch`` applied and hidden from the agent, with PASS_TO_PASS as the
regression set. A worker in this process drains the queue, then the results
are reported per instance.

Besides SWE-bench's own fields an instance may carry ``install`` (a setup
command or a list of them; the project's detected setup without it) and
``test_cmd`` (``{tests}`` marks where the test files go; they are appended
without it). ``repo`` is a path (relative to the file), a git URL, or a
GitHub ``owner/name`` as SWE-bench gives it. The gold ``patch``,
``hints_text`` (unless asked for), ``version``, ``created_at`` and
``environment_setup_commit`` are not used: the setup runs at the base commit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from overnight import queue
from overnight.agents.library import PromptSet
from overnight.errors import OvernightError, UsageError
from overnight.intake import submit_spec
from overnight.spec import Budget, Spec, TestPatch
from overnight.spec.lint import NODE_ID
from overnight.store import Store
from overnight.task_list import task_summary
from overnight.worker import Worker
from overnight.workspace.cache import is_url

REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS")
TEXTS = ("instance_id", "repo", "base_commit", "problem_statement")  # non-blank strings
GITHUB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/(?!\.\.?$)[A-Za-z0-9_.-]+$")  # "owner/name"


def load_instances(path: Path) -> list[dict[str, Any]]:
    """The instances of ``path``, checked and normalised (``install`` a list or None,
    the test lists lists); a bad one is a UsageError naming its line and id."""
    return [item for _, item in read_instances(path)]


def read_instances(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, instance) pairs: ``where`` is ``file:line (instance id)``."""
    text = path.read_text()
    if text.lstrip().startswith("["):  # a JSON list, as some SWE-bench copies are
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
        raw = [(f"{path}: item {n}", item) for n, item in enumerate(items, start=1)]
    else:
        raw = [
            (f"{path}:{n}", _json(line, f"{path}:{n}"))
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    instances: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for where, item in raw:
        where, item = check_instance(item, where)
        name = item["instance_id"]
        if name in seen:
            raise UsageError(
                f"{where}: the instance id is already used at {seen[name]}: "
                "give each instance its own"
            )
        seen[name] = where
        instances.append((where, item))
    if not instances:
        raise UsageError(f"{path} has no instances")
    return instances


def _json(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc.msg})") from exc


def check_instance(item: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(where, with the instance id; the instance normalised), or a one-line UsageError."""
    if not isinstance(item, dict):
        raise UsageError(f"{where}: an instance is a JSON object, not {type(item).__name__}")
    if isinstance(item.get("instance_id"), str):
        where = f"{where} ({item['instance_id']})"
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)}")
    for key in TEXTS:
        if not isinstance(item[key], str) or not item[key].strip():
            raise UsageError(f"{where}: {key} must be a non-empty string")
    if not isinstance(item["test_patch"], str):
        raise UsageError(f"{where}: test_patch must be a diff, as a string")
    item = dict(item)
    item["FAIL_TO_PASS"] = node_ids(item, "FAIL_TO_PASS", where)
    item["PASS_TO_PASS"] = node_ids(item, "PASS_TO_PASS", where)
    if not item["FAIL_TO_PASS"]:
        raise UsageError(f"{where}: FAIL_TO_PASS is empty: an instance needs a test to pass")
    item["install"] = commands(item.get("install"), where)
    test_cmd = item.get("test_cmd")
    if test_cmd is not None and (not isinstance(test_cmd, str) or not test_cmd.strip()):
        raise UsageError(f"{where}: test_cmd must be a command (a string), or left out")
    return where, item


def node_ids(item: dict[str, Any], key: str, where: str) -> list[str]:
    """FAIL_TO_PASS or PASS_TO_PASS as a list of pytest node ids (SWE-bench stores
    them as JSON strings)."""
    value = item.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: {key} is a string but not a JSON list ({exc.msg})") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a list of pytest node ids")
    bad = [v for v in value if not NODE_ID.match(v.strip())]
    if bad:
        raise UsageError(
            f"{where}: not pytest node ids (path/to/test_file.py::test_name) in {key}: "
            f"{', '.join(bad[:3])}; instances graded by another runner cannot be run"
        )
    return [v.strip() for v in value]


def commands(value: Any, where: str) -> list[str] | None:
    """``install`` as a list of commands: a string is one command; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"{where}: install must be a command or a list of commands (strings)")


def instance_spec(item: dict[str, Any], *, hints: bool = False) -> Spec:
    """The task of an instance (checked here too: a UsageError if it is malformed);
    ``hints`` adds its ``hints_text`` to the description (SWE-bench's leaderboard runs
    without them)."""
    _, item = check_instance(item, f"instance {item.get('instance_id')}")
    statement = item["problem_statement"]
    first = next((line.strip() for line in statement.splitlines() if line.strip()), "")
    description = statement
    if hints and isinstance(item.get("hints_text"), str) and item["hints_text"].strip():
        description = f"{statement.rstrip()}\n\n## Hints\n\n{item['hints_text'].strip()}\n"
    return Spec(
        title=f"{item['instance_id']}: {first[:100]}",
        description=description,
        repo=item["repo"],
        base=item["base_commit"],
        acceptance_tests=list(item["FAIL_TO_PASS"]),
        test_patches=[TestPatch(path="test_patch", text=item["test_patch"], hidden=True)],
        regression=list(item.get("PASS_TO_PASS") or []) or "none",
        setup=item["install"],
        test_cmd=item.get("test_cmd"),
        instance_id=item["instance_id"],
    )


def instance_repo(repo: str, base_dir: Path) -> str:
    """A local path or URL as given; SWE-bench's GitHub ``owner/name``, when no such
    path exists, as its GitHub URL."""
    if is_url(repo) or (base_dir / repo).expanduser().exists() or not GITHUB.match(repo):
        return repo
    return f"https://github.com/{repo}.git"


def run_eval(
    store: Store, path: Path, *, agent: str | None, slots: int = 1, hints: bool = False
) -> list[dict]:
    """Queue every instance of ``path``, run them in this process, report each."""
    ids = submit_instances(store, path, read_instances(path), agent=agent, hints=hints)
    Worker(store, slots=slots).run(drain=True)
    return report(store, ids)


def submit_instances(
    store: Store,
    path: Path,
    instances: list[tuple[str, dict[str, Any]]],
    *,
    agent: str | None,
    hints: bool = False,
    budget: Budget | None = None,
    prompts: PromptSet | None = None,
) -> dict[str, int]:
    """Instance id -> task id (each with ``budget`` and ``prompts`` when given: an
    evaluation configuration's, stored with the task). All or none: when one
    cannot be queued (its repository or base missing), those queued before it are
    cancelled."""
    ids: dict[str, int] = {}
    for where, item in instances:
        spec = instance_spec(item, hints=hints)
        spec.repo = instance_repo(item["repo"], path.parent)
        if budget is not None:
            spec.budget = budget
        spec.prompts = prompts
        front = {"instance": item["instance_id"], "repo": spec.repo, "base": spec.base}
        text = "---\n" + yaml.safe_dump(front) + "---\n" + spec.description
        try:
            task = submit_spec(store, spec, text, base_dir=path.parent, agent=agent).task
        except OvernightError as exc:
            for task_id in ids.values():
                queue.cancel(store, task_id)
            undone = f" ({len(ids)} instance(s) queued before it cancelled)" if ids else ""
            raise UsageError(f"{where}: {exc}{undone}") from exc
        ids[item["instance_id"]] = task.id
    return ids


def report(store: Store, ids: dict[str, int]) -> list[dict]:
    rows = []
    with store.session() as session:
        for instance_id, task_id in ids.items():
            task = store.task(session, task_id)
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
                    "attempts": summary["attempts"],
                    "failing_gates": summary["failing_gates"],
                    "failure_reason": task.failure_reason,
                    "seconds": seconds,
                }
            )
    return rows
