"""The read models shared by the CLI, the API and the dashboard: here, the one
line that sums up a task's checks, as `overnight show` and the task page print it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select, update

from overnight.store import GateResult, Run, Task
from overnight.testing.history import populate
from overnight.views import badge, checks

OVERNIGHT = str(Path(sys.executable).parent / "overnight")


def gate(name: str, verdict: str = "pass", blocking: bool = True, attempt: int = 2):
    return SimpleNamespace(name=name, verdict=verdict, blocking=blocking, attempt=attempt)


BLOCKING = ["scope", "test-integrity", "lint", "types", "security", "tests", "acceptance-commands"]


def test_all_blocking_gates_passed_with_advisory_warnings_is_a_warning_not_a_failure():
    summary = checks(
        [gate(n) for n in BLOCKING]
        + [gate("docs", "fail", blocking=False), gate("coverage", "error", blocking=False)]
        + [gate("review", "skipped", blocking=False), gate("tests", "fail", attempt=1)],
        run=1,
    )

    assert summary.line == (
        "All 7 blocking gates passed, 2 advisory warnings (docs, coverage), 1 skipped (review)"
    )
    assert (summary.state, summary.attempt) == ("warn", 2)  # the last attempt only
    assert badge("fail", blocking=False) == "warn" and badge("fail", blocking=True) == "fail"


def test_failed_blocking_gates_are_named_with_errors_marked():
    summary = checks(
        [gate(n) for n in BLOCKING[:5]] + [gate("tests", "fail"), gate("lint2", "error")]
    )

    assert summary.line == "2 of 7 blocking gates failed: tests, lint2 (error)"
    assert summary.state == "fail"


def test_no_gates_yet_and_a_single_gate_read_naturally():
    assert checks([]).line == "No gates have run yet" and checks([]).state == "none"
    assert checks([gate("tests")]).line == "The blocking gate passed"


def test_show_prints_the_same_checks_line_as_the_json_and_the_task_page(store, home, tmp_path):
    populate(store, tasks=10, events=0)
    with store.session() as session:
        task_id, run_id = session.execute(
            select(Task.id, Run.id).join(Run).where(Task.status == "ready")
        ).first()
        attempts = session.get(Run, run_id).attempts
        session.execute(
            update(GateResult)
            .where(GateResult.run_id == run_id, GateResult.attempt == attempts)
            .where(GateResult.name == "lint")
            .values(blocking=False, verdict="fail")
        )

    shown = subprocess.run(
        [OVERNIGHT, "show", str(task_id), "--no-diff"], capture_output=True, text=True, cwd=tmp_path
    )
    data = json.loads(
        subprocess.run(
            [OVERNIGHT, "show", str(task_id), "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        ).stdout
    )

    line = "All 4 blocking gates passed, 1 advisory warning (lint)"
    assert shown.returncode == 0, shown.stderr
    assert f"checks: {line}\n" in shown.stdout
    assert "warn (advisory)" in shown.stdout
    assert data["checks"]["line"] == line and data["checks"]["state"] == "warn"
    assert data["checks"]["warnings"] == ["lint"] and data["checks"]["attempt"] == attempts
