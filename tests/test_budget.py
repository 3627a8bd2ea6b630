"""The budget's minutes: how they split between the agent and the gates, and running
out of them as a ``budget:`` failure, never a gate's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import CALC, OVERNIGHT_TOML, PYPROJECT, TEST_CALC, drain

from overnight.intake import submit_text
from overnight.spec import Budget
from overnight.testing import make_repo
from overnight.views import task_detail

OVERNIGHT = str(Path(sys.executable).parent / "overnight")


def test_the_grading_reserve_is_a_quarter_of_the_minutes_up_to_two_minutes():
    assert Budget(minutes=1).grading_reserve == 15
    assert Budget(minutes=1).attempt_needs == 30
    assert Budget(minutes=4).grading_reserve == 60
    assert Budget(minutes=30).grading_reserve == 120
    assert Budget(minutes=0.1).grading_reserve == 1.5


def test_the_split_is_described_in_words():
    assert Budget(minutes=1).describe() == (
        "3 attempt(s) in 60 s: agent up to 45 s, grading reserve 15 s"
    )
    assert Budget(attempts=2, minutes=30).describe() == (
        "2 attempt(s) in 30 min: agent up to 28 min, grading reserve 2 min"
    )
    assert Budget(minutes=600).describe() == (
        "3 attempt(s) in 10 h: agent up to 9 h 58 min, grading reserve 2 min"
    )


def submit_and_run(store, spec) -> dict:
    task_id = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id
    drain(store)
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def test_an_agent_that_sleeps_runs_out_of_minutes_as_a_budget_failure(store, mul_spec):
    # 24 s: the agent may use 18 s, the gates keep 6 s; a second attempt needs 12 s
    spec = mul_spec("command:sleep 600", extra="budget: {attempts: 3, minutes: 0.4}\n")
    task = submit_and_run(store, spec)
    assert task["status"] == "failed"
    reason = task["failure_reason"]
    assert reason.startswith("budget: "), reason
    assert re.search(
        r" (after|during) attempt 1 (of 3 )?\(agent (1[7-9]|2[0-2]) s, gates \d+ s\)", reason
    )
    run = task["runs"][0]
    assert run["attempts"] == 1
    agents = [s for s in run["steps"] if s["name"] == "agent"]
    assert len(agents) == 1  # no second attempt with a sliver of time
    took = float(re.search(r"timed out after ([\d.]+) s", agents[0]["summary"]).group(1))
    assert 17 <= took <= 22, agents[0]["summary"]  # 18 s, and the kill takes what it takes
    assert not any("timed out" in g["summary"] for g in run["all_gates"])
    status = subprocess.run(
        [OVERNIGHT, "status"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"}
    )
    row = next(line for line in status.stdout.splitlines() if "Add mul to calc" in line)
    assert "budget: " in row  # the reason, not the gates as if they had ended the task


def test_gates_cut_short_by_the_minutes_are_a_budget_failure_not_a_gate_verdict(store, tmp_path):
    toml = OVERNIGHT_TOML + '\n[gates.command.slow]\ncommand = "sleep 600"\n'
    files = {"calc.py": CALC, "tests/test_calc.py": TEST_CALC, "pyproject.toml": PYPROJECT}
    repo = make_repo(tmp_path / "calc", {**files, "overnight.toml": toml})
    spec = tmp_path / "slow.md"
    spec.write_text(
        f"---\ntitle: Add sub\nrepo: {repo}\nacceptance:\n  - run: 'true'\n"
        "agent: 'command:true'\nbudget: {attempts: 3, minutes: 0.2}\n---\n"
        "Nothing to do.\n"
    )
    task = submit_and_run(store, spec)
    assert task["status"] == "failed"
    reason = task["failure_reason"]
    spent = re.fullmatch(
        r"budget: 12 s spent during attempt 1 \(agent (\d+) s, gates (\d+) s\); "
        r"its gates were cut short",
        reason,
    )
    assert spent, reason
    assert 11 <= int(spent[1]) + int(spent[2]) <= 13, reason  # the split of the 12 s, however slow
    run = task["runs"][0]
    assert run["attempts"] == 1 and run["all_gates"] == [] and task["failing_gates"] == []
    gates = next(s for s in run["steps"] if s["name"] == "gates")
    assert gates["status"] == "failed"
    assert gates["summary"] == "cut short: the budget's minutes ran out"


def test_lint_and_show_state_the_split(store, mul_spec, tmp_path):
    spec = mul_spec("command:true", extra="budget: {attempts: 2, minutes: 1}\n")
    lint = subprocess.run([OVERNIGHT, "spec", "lint", str(spec)], capture_output=True, text=True)
    split = "2 attempt(s) in 60 s: agent up to 45 s, grading reserve 15 s"
    assert lint.returncode == 0, lint.stderr
    assert lint.stdout == f"{spec}: ok\n  budget: {split}\n"
    task = submit_and_run(store, spec)
    assert task["budget"]["summary"] == split
    show = subprocess.run(
        [OVERNIGHT, "show", str(task["id"]), "--no-diff"], capture_output=True, text=True
    )
    assert f"budget {split}" in show.stdout
    assert re.search(r"spent: agent \d+ s, gates \d+ s of 60 s", show.stdout), show.stdout
