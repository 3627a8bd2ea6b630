"""A plan's copy in the store (planning/stored.py) and the human's edits before it is
queued (planning/edit.py): both write the folder and the store, so they agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CALC, TEST_CALC
from test_plan import CONFIG, GOOD, answer

from overnight.errors import UsageError
from overnight.planning.edit import drop_node, edit_description
from overnight.planning.planfile import Plan
from overnight.planning.planner import make_plan
from overnight.planning.stored import board, plan_list, record
from overnight.planning.submit import submit_plan
from overnight.store import Store, Task, TaskStatus, now
from overnight.store import plans as stored
from overnight.testing import make_repo
from overnight.testing.llm_server import ScriptedLLMServer


def planned(tmp_path: Path) -> Path:
    """A plan folder of GOOD (mul; sub after mul; power after both), every node proven."""
    repo = make_repo(
        tmp_path / "calc",
        {"calc.py": CALC, "tests/test_calc.py": TEST_CALC, "overnight.toml": CONFIG},
    )
    feature = tmp_path / "feature.md"
    feature.write_text("# Arithmetic\n\ncalc gets mul, sub and power.\n")
    with ScriptedLLMServer([answer(*GOOD)]) as server:
        make_plan(feature, tmp_path / "out", repo=str(repo), model=server.model_name)
    return tmp_path / "out"


@pytest.fixture
def folder(tmp_path: Path, home: Path) -> Path:
    return planned(tmp_path)


def test_a_plan_round_trips_through_the_store_and_is_replaced_on_each_write(
    folder: Path, store: Store
) -> None:
    plan = Plan.load(folder)
    plan_id = record(store, folder, plan)
    assert record(store, folder, plan) == plan_id  # one row per folder
    with store.reading() as session:
        row = stored.plan(session, plan_id)
        assert row is not None
        shown = board(session, plan_id, now())
    assert row["folder"] == str(folder.resolve()) and row["base_sha"] == plan.base_sha
    assert [n["id"] for n in row["nodes"]] == ["mul", "sub", "power"]
    power = row["nodes"][2]
    assert power["depends_on"] == ["mul", "sub"] and power["status"] == "proven"
    assert power["spec"] == (folder / "03-power.md").read_text()
    assert power["description"].startswith("- calc.power exists")
    assert [n["state"] for n in shown.nodes] == ["proven"] * 3 and shown.unproven == []
    assert shown.tasks_cost is None and not shown.submitted

    done, _ = submit_plan(store, folder)
    with store.session() as session:  # as if a worker had finished the first one
        first = session.get(Task, done.nodes[0].task)
        assert first is not None
        first.status = TaskStatus.READY
    with store.reading() as session:
        after = board(session, plan_id, now())
        (listed,) = plan_list(session)
    assert [n["task"] for n in after.plan["nodes"]] == [n.task for n in done.nodes]
    assert [n["state"] for n in after.nodes] == ["ready", "queued", "queued"]
    assert after.done == 1 and after.tasks_cost is not None and after.submitted
    assert (listed["id"], listed["total"], listed["done"]) == (plan_id, 3, 1)


def test_an_edited_description_is_written_to_the_spec_file_and_the_store(
    folder: Path, store: Store
) -> None:
    before = (folder / "02-sub.md").read_text()
    edit_description(store, folder, "sub", "Add `sub(a, b)`: a minus b.\r\n")
    text = (folder / "02-sub.md").read_text()
    assert text == before[: before.index("---\n", 4) + 4] + "Add `sub(a, b)`: a minus b.\n"
    node = Plan.load(folder).node("sub")
    assert node.status == "proven" and node.lint == []  # the tests did not change
    with store.reading() as session:
        (row,) = stored.plans(session)
    assert row["nodes"][1]["description"] == "Add `sub(a, b)`: a minus b."
    with pytest.raises(UsageError, match="must say what to do"):
        edit_description(store, folder, "sub", "  ")


def test_a_node_others_depend_on_is_not_dropped_and_a_leaf_is(folder: Path, store: Store) -> None:
    with pytest.raises(UsageError, match="cannot drop 'mul': sub, power depend"):
        drop_node(store, folder, "mul")
    assert [n.id for n in Plan.load(folder).nodes] == ["mul", "sub", "power"]

    drop_node(store, folder, "power")

    assert [n.id for n in Plan.load(folder).nodes] == ["mul", "sub"]
    assert not (folder / "03-power.md").exists()
    assert not (folder / "03-power.tests.patch").exists()
    with store.reading() as session:
        (row,) = stored.plans(session)
    assert [n["id"] for n in row["nodes"]] == ["mul", "sub"]
    drop_node(store, folder, "sub")  # now nothing depends on sub
    submit_plan(store, folder)
    with pytest.raises(UsageError, match="submitted already"):
        drop_node(store, folder, "mul")
