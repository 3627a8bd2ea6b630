"""`overnight plan` and `overnight spec draft` (planning/): a feature planned by the
scripted model over loopback, its tests proven at the base, the folder written,
submitted in order (all or none), shown with live statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CALC, INHERIT, TEST_CALC

from overnight import demo
from overnight.cli import main
from overnight.errors import PlanError
from overnight.planning.answer import Malformed, parse_answer
from overnight.planning.context import ReadLimits
from overnight.planning.planfile import Plan
from overnight.planning.planner import make_plan
from overnight.planning.submit import submit_plan
from overnight.spec import lint_text
from overnight.store import Store, Task
from overnight.testing import make_repo
from overnight.testing.llm_server import Say, ScriptedLLMServer

CONFIG = INHERIT + 'test_cmd = "python -m pytest -q"\n'


def new_test(path: str, body: str) -> str:
    """A patch adding the test file ``path`` with ``body``."""
    lines = body.splitlines()
    added = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{added}"


MUL = new_test(
    "tests/test_mul.py", "import calc\n\n\ndef test_mul():\n    assert calc.mul(2, 3) == 6"
)
SUB = new_test(
    "tests/test_sub.py", "import calc\n\n\ndef test_sub():\n    assert calc.sub(5, 3) == 2"
)
POW = new_test(
    "tests/test_pow.py", "import calc\n\n\ndef test_pow():\n    assert calc.power(2, 3) == 8"
)
PASSING = new_test(
    "tests/test_add2.py", "import calc\n\n\ndef test_add2():\n    assert calc.add(2, 2) == 4"
)
BROKEN = new_test(
    "tests/test_div.py", "from calc import div\n\n\ndef test_div():\n    assert div(6, 3) == 2"
)


def spec(node_id: str, patch: str, depends_on: list[str] | None = None, **extra: object) -> dict:
    return {
        "id": node_id,
        "title": f"Add {node_id} to calc",
        "description": f"- calc.{node_id} exists\n- its test in `tests/` passes",
        "scope": ["calc.py"],
        "test_patch": patch,
        "depends_on": depends_on or [],
        **extra,
    }


def answer(*specs: dict) -> Say:
    return Say("Here is the plan.\n\n```json\n" + json.dumps({"specs": list(specs)}) + "\n```")


GOOD = (spec("mul", MUL), spec("sub", SUB, ["mul"]), spec("power", POW, ["mul", "sub"]))


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    return make_repo(
        tmp_path / "calc",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": CONFIG,
            "AGENTS.md": "Keep functions small.\n",
        },
    )


@pytest.fixture
def feature(tmp_path: Path) -> Path:
    path = tmp_path / "feature.md"
    path.write_text("# Arithmetic\n\ncalc gets mul, sub and power.\n")
    return path


def plan(server: ScriptedLLMServer, feature: Path, repo: Path, **kw: object) -> Plan:
    return make_plan(feature, feature.parent / "out", repo=str(repo), model=server.model_name, **kw)  # type: ignore[arg-type]


def test_a_good_plan_is_proven_at_the_base_and_written_in_order(feature: Path, repo: Path) -> None:
    read = Say('I will look first.\n```json\n{"read": ["calc.py", "nowhere.py"]}\n```')
    with ScriptedLLMServer([read, answer(*reversed(GOOD))]) as server:
        made = plan(server, feature, repo)
        first, second = (r.body["messages"] for r in server.requests)
    assert "calc.py" in first[0]["content"] and "Keep functions small." in first[0]["content"]
    assert "def add(a, b)" in second[-1]["content"]  # the file read at the base
    assert "no such file at the base" in second[-1]["content"]
    out = feature.parent / "out"
    assert [n.id for n in made.nodes] == ["mul", "sub", "power"]  # dependencies first
    assert [n.status for n in made.nodes] == ["proven"] * 3
    assert all(not n.lint for n in made.nodes)
    assert made.nodes[0].proof["outcomes"] == {"tests/test_mul.py::test_mul": "failed"}
    assert sorted(p.name for p in out.iterdir()) == [
        "01-mul.md",
        "01-mul.tests.patch",
        "02-sub.md",
        "02-sub.tests.patch",
        "03-power.md",
        "03-power.tests.patch",
        "plan.json",
        "transcript.json",
    ]
    saved = json.loads((out / "plan.json").read_text())
    assert saved["edges"] == [["mul", "sub"], ["mul", "power"], ["sub", "power"]]
    assert (
        saved["prompts"]["plan"]["source"] == "built-in"
        and len(saved["prompts"]["plan"]["hash"]) == 12
    )
    text = (out / "03-power.md").read_text()
    assert lint_text(text, out) == []
    assert "- tests/test_pow.py::test_pow\n" in text and "depends_on" not in text


def test_a_malformed_answer_is_sent_back_with_its_parse_error(feature: Path, repo: Path) -> None:
    bad = Say('```json\n{"specs": [{"id": "Mul!"}]}\n```')
    with ScriptedLLMServer([bad, answer(spec("mul", MUL))]) as server:
        made = plan(server, feature, repo)
        resent = server.requests[1].body["messages"][-1]["content"]
    assert "specs[0].title is required" in resent
    assert [n.status for n in made.nodes] == ["proven"]


def test_a_malformed_answer_twice_fails_with_one_clear_line(feature: Path, repo: Path) -> None:
    script = [Say("no block at all"), Say("```json\n{oops\n```")]
    failure = r"malformed 2 time\(s\), last: invalid JSON at line 1"
    with ScriptedLLMServer(script) as server, pytest.raises(PlanError, match=failure):
        plan(server, feature, repo)
    assert not (feature.parent / "out").exists()


def test_a_cycle_is_refused_and_named(feature: Path, repo: Path) -> None:
    cyclic = answer(spec("mul", MUL, ["sub"]), spec("sub", SUB, ["mul"]))
    cycle = "cycle: mul -> sub -> mul"
    with ScriptedLLMServer([cyclic, cyclic]) as server, pytest.raises(PlanError, match=cycle):
        plan(server, feature, repo)


def test_unknown_ids_and_bad_fields_are_refused() -> None:
    with pytest.raises(Malformed, match="depends on 'nope', which is not in the plan"):
        parse_answer(answer(spec("mul", MUL, ["nope"])).text)
    with pytest.raises(Malformed, match="unknown field 'priority'"):
        parse_answer(answer(spec("mul", MUL, priority=3)).text)
    with pytest.raises(Malformed, match="touches '../x.py', a path out of the repository"):
        parse_answer(answer(spec("mul", new_test("../x.py", "x = 1"))).text)
    with pytest.raises(Malformed, match="2 fenced blocks"):
        parse_answer("```json\n{}\n```\n```json\n{}\n```")


def test_a_test_passing_or_not_collected_at_the_base_is_marked_and_not_submittable(
    feature: Path, repo: Path, store: Store
) -> None:
    with ScriptedLLMServer([answer(spec("add2", PASSING), spec("div", BROKEN))]) as server:
        made = plan(server, feature, repo)
    passing, broken = made.nodes
    assert passing.status == "passes-at-base"
    assert "tests/test_add2.py::test_add2: passed" in passing.proof["evidence"]
    assert broken.status == "does-not-collect"
    assert "cannot import name 'div'" in broken.proof["evidence"]
    with pytest.raises(PlanError, match=r"2 spec\(s\) not ready: add2 \(passes-at-base\)"):
        submit_plan(store, feature.parent / "out")
    with store.session() as session:
        assert session.query(Task).count() == 0


def test_submit_maps_depends_on_to_task_ids_and_refuses_twice(
    feature: Path, repo: Path, store: Store
) -> None:
    with ScriptedLLMServer([answer(*GOOD)]) as server:
        plan(server, feature, repo, until="merged")
    out = feature.parent / "out"
    done, warnings = submit_plan(store, out)
    assert warnings == []
    ids = {n.id: n.task for n in done.nodes}
    with store.session() as session:
        power = session.get(Task, ids["power"])
        assert power is not None
        deps = [(d["task"], d["until"]) for d in power.spec["depends_on"]]
    assert deps == [(ids["mul"], "merged"), (ids["sub"], "merged")]
    assert Plan.load(out).node("sub").task == ids["sub"]
    first = min(ids.values())
    with pytest.raises(PlanError, match=f"already submitted as tasks {first}..{first + 2}"):
        submit_plan(store, out)
    result = CliRunner().invoke(main, ["plan", "show", str(out)])
    assert result.exit_code == 0, result.output
    assert f"task {ids['power']} queued" in result.output.lower()
    assert "cost: planning" in result.output


def test_a_fixed_test_is_proven_again_then_submitted(
    feature: Path, repo: Path, store: Store
) -> None:
    with ScriptedLLMServer([answer(spec("add2", PASSING))]) as server:
        plan(server, feature, repo)
    out = feature.parent / "out"
    patch = out / "01-add2.tests.patch"
    patch.write_text(patch.read_text().replace("== 4", "== 5"))  # the human's fix
    result = CliRunner().invoke(main, ["plan", "prove", str(out)])
    assert result.exit_code == 0, result.output
    assert "01 add2  [proven]" in result.output
    (node,) = submit_plan(store, out)[0].nodes
    assert node.task is not None


def test_submit_is_all_or_none(feature: Path, repo: Path, store: Store) -> None:
    with ScriptedLLMServer([answer(*GOOD)]) as server:
        plan(server, feature, repo)
    out = feature.parent / "out"
    text = (out / "03-power.md").read_text()  # the last one fails only when it is queued
    (out / "03-power.md").write_text(text.replace(f"base: {Plan.load(out).base_ref}", "base: gone"))
    with pytest.raises(
        PlanError, match=r"03-power.md: unknown base 'gone'.*2 queued before it cancelled"
    ):
        submit_plan(store, out)
    with store.session() as session:
        assert {t.status for t in session.query(Task)} == {"cancelled"}
    assert Plan.load(out).submitted_at is None


def test_spec_draft_writes_a_lint_clean_proven_spec(tmp_path: Path, repo: Path) -> None:
    with ScriptedLLMServer([answer(spec("mul", MUL))]) as server:
        result = CliRunner().invoke(
            main,
            [
                "spec",
                "draft",
                "calc needs mul",
                "--repo",
                str(repo),
                "--model",
                server.model_name,
                "--out",
                str(tmp_path / "mul.md"),
            ],
        )
        prompt = server.requests[0].body["messages"][0]["content"]
    assert result.exit_code == 0, result.output
    assert "calc needs mul" in prompt
    assert "proof: proven" in result.output and f"wrote {tmp_path / 'mul.md'}" in result.output
    assert lint_text((tmp_path / "mul.md").read_text(), tmp_path) == []
    assert (tmp_path / "mul.tests.patch").read_text().startswith("diff --git a/tests/test_mul.py")


def test_plan_cli_fails_in_one_line(feature: Path, repo: Path) -> None:
    with ScriptedLLMServer([Say("nothing"), Say("still nothing")]) as server:
        result = CliRunner().invoke(
            main, ["plan", str(feature), "--repo", str(repo), "--model", server.model_name]
        )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the model's answer was malformed 2 time(s)")
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_the_embedded_model_plans_the_demo_honestly(home: Path, tmp_path: Path) -> None:
    """Not a test of the model's skill: a plan whose every node carries a proof
    status, or one clear failure; never a crash."""
    from test_local_model import TINY, require_engine_and_tiny_model

    require_engine_and_tiny_model()
    made = demo.create(tmp_path / "demo")
    feature = tmp_path / "feature.md"
    feature.write_text("textstats gets char_count(text): how many characters, spaces included.\n")
    try:
        planned = make_plan(feature, tmp_path / "out", repo=str(made.repo), model=f"local:{TINY}")
    except PlanError as exc:
        assert str(exc).startswith("the model's answer was malformed")
        return
    assert planned.nodes
    assert {n.status for n in planned.nodes} <= {
        "proven",
        "passes-at-base",
        "does-not-collect",
        "does-not-apply",
    }
    assert (tmp_path / "out" / "plan.json").is_file()


def test_a_yaml_answer_with_a_literal_diff_is_read() -> None:
    indented = "".join(f"      {line}\n" for line in MUL.splitlines())
    text = (
        "```yaml\nspecs:\n  - id: mul\n    title: Add mul\n    description: calc.mul\n"
        f"    test_patch: |\n{indented}```\n"
    )
    (node,) = parse_answer(text).nodes
    assert node.test_patch == MUL and node.depends_on == [] and node.tests == []
    with pytest.raises(Malformed, match="key 'specs' is given twice|duplicate"):
        parse_answer("```yaml\nspecs: []\nspecs: []\n```")


def test_reads_beyond_the_rounds_count_as_malformed(feature: Path, repo: Path) -> None:
    read = Say('```json\n{"read": ["calc.py"]}\n```')
    with ScriptedLLMServer([read, answer(spec("mul", MUL))]) as server:
        made = plan(server, feature, repo, limits=ReadLimits(rounds=0))
        resent = server.requests[1].body["messages"][-1]["content"]
    assert "no reads are left: answer with 'specs' now" in resent
    assert [n.id for n in made.nodes] == ["mul"]


def test_a_base_whose_setup_fails_is_each_node_evidence(
    feature: Path, tmp_path: Path, home: Path
) -> None:
    broken = make_repo(
        tmp_path / "broken",
        {"calc.py": CALC, "overnight.toml": 'setup = ["exit 3"]\ntest_cmd = "python -m pytest"\n'},
    )
    with ScriptedLLMServer([answer(spec("mul", MUL))]) as server:
        made = plan(server, feature, broken)
    (node,) = made.nodes
    assert node.status == "does-not-collect"
    assert node.proof["evidence"].startswith("the environment's setup fails at the base")
