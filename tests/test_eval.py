"""`eval run` on a real SWE-bench-format instance built from the inflection 0.5.1 sdist."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inflection import FIXTURE, inflection_repo
from rich.console import Console

from overnight.cli.eval import reason, results_table
from overnight.errors import UsageError
from overnight.evaluation import (
    instance_repo,
    instance_spec,
    load_instances,
    read_instances,
    run_eval,
    submit_instances,
)
from overnight.store import Store, Task
from overnight.views import task_detail

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
    no-change instance (its install a string), and a command agent that tells them apart by
    $OVERNIGHT_INSTANCE_ID. Returns (jsonl path, agent, records dir, repo)."""
    repo, base = inflection_repo(tmp_path / "inflection")
    noop = instance(repo, base, NOOP)
    (noop["install"],) = noop["install"]  # one command as a string: runs as one command
    jsonl = write_jsonl(tmp_path / "instances.jsonl", [instance(repo, base, GOLD), noop])
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
    env = dict(os.environ, COLUMNS="200")  # OVERNIGHT_HOME and OVERNIGHT_CACHE set by `home`
    done = overnight("eval", "run", str(jsonl), "--agent", agent, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(GOLD in line and "ready" in line for line in lines), done.stdout
    (gold,) = [line.split() for line in lines if GOLD in line and NOOP not in line]
    (noop,) = [line for line in lines if NOOP in line]
    assert gold[2:4] == ["ready", "1"] and gold[4].endswith("s") and gold[5:] == ["-"]
    assert "failed" in noop and "gates: tests failed after 3 attempt(s)" in noop, done.stdout
    assert "1 of 2 instance(s) READY" in done.stdout

    env["OVERNIGHT_HOME"] = str(tmp_path / "home-json")
    done = overnight("eval", "run", str(jsonl), "--agent", agent, "--json", env=env)
    assert done.returncode == 0, done.stderr
    rows = {r["instance_id"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {GOLD, NOOP}
    for row in rows.values():
        assert {
            "instance_id",
            "status",
            "attempts",
            "failing_gates",
            "failure_reason",
            "seconds",
        } <= set(row)
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
    with pytest.raises(UsageError, match=rf"missing\.jsonl:1 \({GOLD}\): missing base_commit"):
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


def test_an_install_string_is_one_command_and_a_list_a_list_of_commands(tmp_path: Path):
    one, many = base_instance(tmp_path), {**base_instance(tmp_path), "instance_id": "b"}
    one["install"] = "python -m pip install -e ."
    many["install"] = ["python -m pip install pytest", "python -m pip install -e ."]
    loaded = load_instances(write_jsonl(tmp_path / "install.jsonl", [one, many]))
    assert [instance_spec(i).setup for i in loaded] == [[one["install"]], many["install"]]
    assert instance_spec(one).setup == ["python -m pip install -e ."]  # unloaded, too
    assert instance_spec(SWEBENCH_ROW).acceptance_tests == [
        "tests/test_blueprints.py::test_dotted_name_not_allowed"
    ]


@pytest.mark.parametrize("install", [5, {"cmd": "make"}, ["make", 3]])
def test_an_install_of_another_type_is_a_one_line_error_naming_line_and_instance(
    tmp_path: Path, install
):
    bad = {**base_instance(tmp_path), "instance_id": "pkg__pkg-7", "install": install}
    path = write_jsonl(tmp_path / "bad.jsonl", [base_instance(tmp_path), bad])
    with pytest.raises(UsageError) as raised:
        load_instances(path)
    assert str(raised.value) == (
        f"{path}:2 (pkg__pkg-7): install must be a command or a list of commands (strings)"
    )


SWEBENCH_ROW = {  # the fields a row of princeton-nlp/SWE-bench_Lite carries, trimmed
    "repo": "pallets/flask",
    "instance_id": "pallets__flask-4045",
    "base_commit": "d8c37f43724cd9fb0870f77877b7c4c7e38a19e0",
    "patch": "diff --git a/src/flask/blueprints.py b/src/flask/blueprints.py\n...",
    "test_patch": "diff --git a/tests/test_blueprints.py b/tests/test_blueprints.py\n...",
    "problem_statement": "\n\nRaise error when blueprint name contains a dot\nThis is "
    "required since every dot is now significant since blueprints can be nested.\n",
    "hints_text": "A plain ValueError is fine here.",
    "created_at": "2021-05-13T21:32:41Z",
    "version": "2.0",
    "FAIL_TO_PASS": '["tests/test_blueprints.py::test_dotted_name_not_allowed"]',
    "PASS_TO_PASS": '["tests/test_blueprints.py::test_blueprint_specific_error_handling"]',
    "environment_setup_commit": "4346498c85848c53843b810537b83a8f6124c9d3",
}


def test_a_real_swebench_row_is_accepted_and_its_extra_fields_are_not_shown(tmp_path: Path):
    (item,) = load_instances(write_jsonl(tmp_path / "lite.jsonl", [SWEBENCH_ROW]))
    spec = instance_spec(item)
    assert spec.title == "pallets__flask-4045: Raise error when blueprint name contains a dot"
    assert spec.acceptance_tests == ["tests/test_blueprints.py::test_dotted_name_not_allowed"]
    assert (spec.setup, spec.test_cmd) == (None, None)  # the project's detected setup
    shown = spec.for_agent()
    assert "ValueError" not in shown and "blueprints.py b/src" not in shown
    assert (
        "## Hints\n\nA plain ValueError is fine here."
        in instance_spec(item, hints=True).description
    )


def test_a_github_owner_and_name_becomes_its_url_unless_it_is_a_local_path(tmp_path: Path):
    assert instance_repo("pallets/flask", tmp_path) == "https://github.com/pallets/flask.git"
    (tmp_path / "pallets" / "flask").mkdir(parents=True)
    assert instance_repo("pallets/flask", tmp_path) == "pallets/flask"
    assert instance_repo("../mirror", tmp_path) == "../mirror"
    assert instance_repo("owner/..", tmp_path) == "owner/.."
    assert instance_repo("git@host:x/y.git", tmp_path) == "git@host:x/y.git"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FAIL_TO_PASS": "[not json"}, "FAIL_TO_PASS is a string but not a JSON list"),
        ({"FAIL_TO_PASS": []}, "FAIL_TO_PASS is empty"),
        ({"FAIL_TO_PASS": '["test_issue_24062"]'}, "not pytest node ids"),
        ({"PASS_TO_PASS": {"a": 1}}, "PASS_TO_PASS must be a list of pytest node ids"),
        ({"problem_statement": "  \n"}, "problem_statement must be a non-empty string"),
        ({"test_cmd": ["pytest"]}, "test_cmd must be a command"),
    ],
)
def test_a_malformed_field_is_one_line_naming_the_instance(tmp_path: Path, change, message):
    path = write_jsonl(tmp_path / "x.jsonl", [{**SWEBENCH_ROW, **change}])
    with pytest.raises(UsageError, match=rf"^{path}:1 \(pallets__flask-4045\): {message}"):
        load_instances(path)


def test_a_repeated_instance_id_and_a_non_object_line_are_refused(tmp_path: Path):
    path = write_jsonl(tmp_path / "twice.jsonl", [SWEBENCH_ROW, SWEBENCH_ROW])
    with pytest.raises(
        UsageError,
        match=r"twice\.jsonl:2 \(pallets__flask-4045\): the "
        r"instance id is already used at .*twice\.jsonl:1",
    ):
        load_instances(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(UsageError, match=r"item 1: an instance is a JSON object, not int"):
        load_instances(path)


def test_a_json_list_of_instances_is_read_like_jsonl(tmp_path: Path):
    path = tmp_path / "lite.json"
    path.write_text(json.dumps([SWEBENCH_ROW, {**SWEBENCH_ROW, "instance_id": "b"}], indent=2))
    assert [where for where, _ in read_instances(path)] == [
        f"{path}: item 1 (pallets__flask-4045)",
        f"{path}: item 2 (b)",
    ]


def test_an_instance_that_cannot_be_queued_cancels_those_before_it(
    store: Store, evaluation, tmp_path: Path
):
    jsonl, _, _, _ = evaluation
    good, _ = (json.loads(line) for line in jsonl.read_text().splitlines())
    missing = {**good, "instance_id": "missing-base", "base_commit": "f" * 40}
    path = write_jsonl(tmp_path / "mixed.jsonl", [good, missing])
    with pytest.raises(UsageError) as raised:
        submit_instances(store, path, read_instances(path), agent="command:true")
    assert str(raised.value).startswith(f"{path}:2 (missing-base): ")
    assert str(raised.value).endswith("(1 instance(s) queued before it cancelled)")
    assert "\n" not in str(raised.value)
    with store.session() as session:
        assert [t.status for t in session.query(Task).all()] == ["cancelled"]


def test_the_table_reason_is_one_trimmed_line_and_a_dash_when_ready():
    row = {
        "status": "failed",
        "failing_gates": [],
        "failure_reason": "setup: `pip install -e .` exited 1:\nERROR: " + "x" * 200,
    }
    cell = reason(row)
    assert cell.startswith("setup: `pip install -e .` exited 1: ERROR: x") and "\n" not in cell
    assert len(cell) == 70 and cell.endswith("…")
    assert (
        reason({**row, "failure_reason": None, "failing_gates": ["lint", "tests"]})
        == "failing gates: lint, tests"
    )
    assert reason({**row, "status": "ready", "failure_reason": None}) == "-"


def test_the_table_keeps_one_line_a_row_and_whole_ids_in_a_narrow_terminal():
    rows = [
        {
            "instance_id": "scikit-learn__scikit-learn-13142",
            "task_id": 12,
            "status": "ready",
            "attempts": 2,
            "seconds": 412.5,
            "failing_gates": [],
            "failure_reason": None,
        },
        {
            "instance_id": "django__django-11099",
            "task_id": 13,
            "status": "failed",
            "attempts": 1,
            "seconds": 3.0,
            "failing_gates": [],
            "failure_reason": "setup: `python -m pip install "
            "-e .` exited 1: ERROR: Could not find a version that satisfies the requirement",
        },
    ]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(results_table(rows))
    lines = console.export_text().splitlines()
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert lines[1].split()[:6] == [
        "scikit-learn__scikit-learn-13142",
        "12",
        "ready",
        "2",
        "412.5s",
        "-",
    ]
    assert lines[2].split()[:6] == ["django__django-11099", "13", "failed", "1", "3.0s", "setup:"]
    assert lines[2].rstrip().endswith("…")
