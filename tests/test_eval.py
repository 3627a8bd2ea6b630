"""`eval run` on a real SWE-bench-format instance built from the inflection 0.5.1 sdist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from overnight.errors import UsageError
from overnight.evaluation import instance_spec, load_instances, run_eval
from overnight.store import Store
from overnight.testing import make_repo
from overnight.views import task_detail

FIXTURE = Path(__file__).parent / "fixtures" / "swebench" / "inflection"
GOLD = "inflection__inflection-1"
NOOP = "inflection__inflection-1-nochange"
FAIL_TO_PASS = json.loads((FIXTURE / "instance.json").read_text())["FAIL_TO_PASS"]

# Applies the gold patch only for the gold instance. Before that it records
# whether the tests collected in the workspace include the hidden FAIL_TO_PASS
# ids (they must not) and one PASS_TO_PASS id (to show collection worked).
AGENT = """#!/bin/sh
out="{records}/$OVERNIGHT_INSTANCE_ID"
python -m pytest --collect-only -q > "$out.collected" 2>&1
for id in {ids}; do
    grep -qF "$id" "$out.collected" && echo "$id" >> "$out.visible"
done
cat test_*.py > "$out.sources"
if [ "$OVERNIGHT_INSTANCE_ID" = "{gold}" ]; then
    git apply "{patch}"
fi
"""


def instance(repo: Path, base: str, instance_id: str) -> dict:
    item = json.loads((FIXTURE / "instance.json").read_text())
    item.update(repo=str(repo), base_commit=base, instance_id=instance_id)
    return item


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


@pytest.fixture
def evaluation(tmp_path: Path):
    """A git repository of the fixture's base tree, a JSONL file with a gold and a
    no-change instance, and a command agent that tells them apart by
    $OVERNIGHT_INSTANCE_ID. Returns (jsonl path, agent, records dir, repo)."""
    files = {
        str(p.relative_to(FIXTURE / "repo")): p.read_text()
        for p in sorted((FIXTURE / "repo").rglob("*"))
        if p.is_file()
    }
    repo = make_repo(tmp_path / "inflection", files)
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    jsonl = write_jsonl(
        tmp_path / "instances.jsonl", [instance(repo, base, GOLD), instance(repo, base, NOOP)]
    )
    records = tmp_path / "records"
    records.mkdir()
    script = tmp_path / "agent.sh"
    script.write_text(
        AGENT.format(
            ids=" ".join(f"'{i}'" for i in FAIL_TO_PASS),
            records=records,
            gold=GOLD,
            patch=FIXTURE / "gold.patch",
        )
    )
    script.chmod(0o755)
    return jsonl, f"command:{script}", records, repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_gold_patch_is_ready_and_no_change_fails_the_tests_gate(
    store: Store, evaluation, tmp_path: Path
):
    jsonl, agent, records, repo = evaluation
    rows = {r["instance_id"]: r for r in run_eval(store, jsonl, agent=agent)}
    assert set(rows) == {GOLD, NOOP}
    assert rows[GOLD]["status"] == "ready", rows[GOLD]["failure_reason"]
    assert rows[GOLD]["failing_gates"] == []
    assert rows[NOOP]["status"] == "failed"
    assert "tests" in rows[NOOP]["failing_gates"]
    assert "tests" in rows[NOOP]["failure_reason"]
    assert all(r["seconds"] > 0 for r in rows.values())

    with store.session() as session:
        gold = task_detail(session, store.task(session, rows[GOLD]["task_id"]))
    gates = {g["name"]: g["verdict"] for g in gold["runs"][-1]["gates"] if g["attempt"] == 1}
    assert gates["tests"] == "pass"

    # The hidden acceptance tests were hidden from both agents ...
    for instance_id in (GOLD, NOOP):
        collected = (records / f"{instance_id}.collected").read_text()
        assert "test_underscore[FreeBSD-free_bsd]" in collected, collected[-2000:]
        assert not (records / f"{instance_id}.visible").exists()
        assert "HTMLTidy" not in (records / f"{instance_id}.sources").read_text()
    # ... but the delivered commit carries them beside the fix.
    delivered = gold["head_sha"]
    assert git(repo, "rev-parse", gold["branch"]).strip() == delivered
    assert '("HTMLTidy",              "html_tidy")' in git(
        repo, "show", f"{delivered}:test_inflection.py"
    )
    assert "([A-Z]+)([A-Z][a-z])" in git(repo, "show", f"{delivered}:inflection/__init__.py")


def overnight(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("overnight")), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_prints_a_table_and_json_of_the_results(evaluation, home: Path, tmp_path: Path):
    jsonl, agent, _, _ = evaluation
    env = dict(os.environ)  # OVERNIGHT_HOME and OVERNIGHT_CACHE set by `home`
    done = overnight("eval", "run", str(jsonl), "--agent", agent, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(GOLD in line and "ready" in line for line in lines), done.stdout
    assert any(NOOP in line and "failed" in line and "tests" in line for line in lines)
    assert "1 of 2 instance(s) READY" in done.stdout

    env["OVERNIGHT_HOME"] = str(tmp_path / "home-json")
    done = overnight("eval", "run", str(jsonl), "--agent", agent, "--json", env=env)
    assert done.returncode == 0, done.stderr
    rows = {r["instance_id"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {GOLD, NOOP}
    for row in rows.values():
        assert {"instance_id", "status", "failing_gates", "seconds"} <= set(row)
        assert isinstance(row["seconds"], float)
    assert rows[GOLD]["status"] == "ready" and rows[GOLD]["failing_gates"] == []
    assert rows[NOOP]["status"] == "failed" and "tests" in rows[NOOP]["failing_gates"]


def base_instance(tmp_path: Path) -> dict:
    return instance(tmp_path, "0" * 40, GOLD)


def test_load_instances_rejects_a_line_that_is_not_json(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(base_instance(tmp_path)) + "\n{not json\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:2: not JSON"):
        load_instances(path)


def test_load_instances_names_a_missing_key(tmp_path: Path):
    item = base_instance(tmp_path)
    del item["base_commit"]
    path = write_jsonl(tmp_path / "missing.jsonl", [item])
    with pytest.raises(UsageError, match=r"missing\.jsonl:1: missing base_commit"):
        load_instances(path)


def test_load_instances_accepts_test_lists_as_json_strings(tmp_path: Path):
    item = base_instance(tmp_path)
    item["FAIL_TO_PASS"] = json.dumps(item["FAIL_TO_PASS"])
    item["PASS_TO_PASS"] = json.dumps(item["PASS_TO_PASS"])
    (loaded,) = load_instances(write_jsonl(tmp_path / "swebench.jsonl", [item]))
    assert loaded["FAIL_TO_PASS"] == FAIL_TO_PASS
    spec = instance_spec(loaded)
    assert spec.acceptance_tests == FAIL_TO_PASS
    assert spec.regression == json.loads(item["PASS_TO_PASS"])
    assert spec.test_patches[0].hidden


def test_load_instances_rejects_an_empty_file(tmp_path: Path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(UsageError, match="no instances"):
        load_instances(path)


def test_instance_without_install_uses_the_detected_setup(tmp_path: Path):
    item = base_instance(tmp_path)
    del item["install"]
    assert instance_spec(item).setup is None
    item["install"] = ["python -m pip install pytest"]
    assert instance_spec(item).setup == ["python -m pip install pytest"]


@pytest.mark.slow
def test_an_empty_install_list_installs_nothing_and_says_pytest_is_missing(
    store: Store, evaluation, tmp_path: Path
):
    jsonl, _, _, _ = evaluation
    item = json.loads(jsonl.read_text().splitlines()[0])
    item["install"] = []
    path = write_jsonl(tmp_path / "bare.jsonl", [item])
    (row,) = run_eval(store, path, agent="command:true")
    assert row["status"] == "failed"
    assert "installs pytest" in row["failure_reason"]
