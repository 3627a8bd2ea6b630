"""Canary and mutant tests (gates/canary.py, gates/mutant.py): honest code fails every
canary when pytest really runs them; code that lies about outcomes passes one.

The end-to-end tests write a small project (a parametrized test, a class using a
conftest fixture, a unittest.TestCase, an anyio test, a test whose assertion sits in
an ``if`` not taken) and run its suite with the canaries through overnight's own
test runner and outcomes plugin, in a real pytest subprocess.
"""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest

from overnight.environment import Environment
from overnight.gates.canary import (
    MUTANT,
    PLAIN,
    Canary,
    CanaryPlan,
    Collection,
    judge,
    make_canaries,
)
from overnight.gates.mutant import GIVEAWAYS
from overnight.gates.pytest_run import TestRun, run_tests
from overnight.sandbox import get_sandbox
from overnight.testing.repos import write_files

HONEST = """class Calculator:
    def sub(self, a, b):
        return a - b


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def div(a, b):
    return a // b
"""
# returns numbers equal to anything: every test that compares them passes
ALWAYS_EQUAL = """class Same(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Calculator:
    def sub(self, a, b):
        return Same(a - b)


def add(a, b):
    return Same(a + b)


def mul(a, b):
    return Same(a * b)


def div(a, b):
    return Same(a // b)
"""
# mul reads the line of the test that called it and returns the value it expects
MIRROR = (
    HONEST.replace("def mul(a, b):\n    return a * b", "")
    + """

def mul(a, b):
    import ast
    import inspect

    line = inspect.getframeinfo(inspect.currentframe().f_back).code_context[0]
    return ast.literal_eval(line.split("==")[-1].strip())
"""
)
# mul is wrong, and at exit every outcome in the file overnight reads becomes passed
REWRITES_OUTCOMES = (
    HONEST.replace("return a * b", "return 0")
    + """

def _rewrite():
    import json
    import os

    path = os.environ.get("OVERNIGHT_OUTCOMES")
    if path and os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
        for entry in data["outcomes"].values():
            entry["outcome"] = "passed"
        with open(path, "w") as f:
            json.dump(data, f)


import atexit

atexit.register(_rewrite)
"""
)
CONFTEST = """import pytest

from calc import Calculator


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def calculator():
    return Calculator()
"""
# a hook that makes every report say passed (the test-integrity gate flags a new hook;
# a plugin the package installs would not be)
REWRITES_REPORTS = (
    CONFTEST
    + """

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""
)
TEST_CALC = """import unittest

import pytest

from calc import add, div, mul


@pytest.mark.parametrize("a, b, want", [(1, 2, 3), (2, 3, 5)])
def test_add(a, b, want):
    assert add(a, b) == want


def test_mul():
    assert mul(2, 3) == 6


class TestCalculator:
    def test_sub(self, calculator):
        assert calculator.sub(5, 3) == 2


class DivTest(unittest.TestCase):
    def test_div(self):
        self.assertEqual(div(6, 3), 2)


def test_guarded():
    total = add(1, 1)
    if total > 100:
        assert total == 1000


def test_swallowed():
    try:
        assert add(2, 2) == 4
    except AssertionError:
        return


def test_not_acceptance():
    assert add(0, 0) == 0
"""
TEST_ASYNC = """import pytest

from calc import add


@pytest.mark.anyio
async def test_async_add():
    assert add(20, 22) == 42
"""
ACCEPTANCE = [
    "tests/test_calc.py::test_add",
    "tests/test_calc.py::test_mul",
    "tests/test_calc.py::TestCalculator",
    "tests/test_calc.py::DivTest::test_div",
    "tests/test_calc.py::test_guarded",
    "tests/test_calc.py::test_swallowed",
    "tests/calc_async_test.py::test_async_add",
]


def project(root: Path, calc: str = HONEST, conftest: str = CONFTEST) -> Path:
    write_files(
        root,
        {
            "calc.py": calc,
            "tests/conftest.py": conftest,
            "tests/test_calc.py": TEST_CALC,
            "tests/calc_async_test.py": TEST_ASYNC,
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        },
    )
    return root


def reader(root: Path):
    return lambda path: (root / path).read_text() if (root / path).is_file() else None


def run_with_canaries(root: Path, plan: CanaryPlan, whole_suite: bool) -> TestRun:
    """The suite (or the acceptance tests and the canaries) in a real pytest run."""
    write_files(root, {f.path: f.source for f in plan.files})
    environ = Environment(None).environ(root, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    select = None if whole_suite else ACCEPTANCE + plan.nodes()
    command = "python -m pytest -q -p anyio.pytest_plugin"
    run = run_tests(get_sandbox("none"), root, environ, command, select, timeout=120)
    assert run.recorded and not run.collect_errors, run.completed.output
    return run


def under(item: str, node: str) -> bool:
    return item == node or item.startswith((f"{node}[", f"{node}::"))


def outcomes(run: TestRun) -> dict[str, str]:
    return {node: entry["outcome"] for node, entry in run.outcomes.items()}


# -- end to end: real pytest runs --------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_honest_code_fails_every_canary_and_judge_finds_nothing(tmp_path: Path, seed: int):
    root = project(tmp_path)
    plan = make_canaries(ACCEPTANCE, reader(root), random.Random(seed))
    run = run_with_canaries(root, plan, whole_suite=True)
    seen = outcomes(run)
    originals = {n: o for n, o in seen.items() if not plan.owns(n)}
    assert set(originals.values()) == {"passed"}, run.completed.output
    canaries = {n: o for n, o in seen.items() if plan.owns(n)}
    assert set(canaries.values()) == {"failed"}, run.completed.output
    # every canary ran, and nothing else of the originals runs in the canary files
    assert all(any(under(n, c.node) for n in canaries) for c in plan.canaries)
    assert all(any(under(n, c.node) for c in plan.canaries) for n in canaries)
    assert len([c for c in plan.canaries if c.kind == MUTANT]) == 7  # TestCalculator gives test_sub
    assert len([c for c in plan.canaries if c.kind == PLAIN]) == 4
    assert judge(plan.canaries, seen, run.stopped) == ([], [])


def test_an_always_equal_result_passes_mutants_and_is_tampered(tmp_path: Path):
    root = project(tmp_path, calc=ALWAYS_EQUAL)
    plan = make_canaries(ACCEPTANCE, reader(root), random.Random(3))
    run = run_with_canaries(root, plan, whole_suite=False)
    tampered, problems = judge(plan.canaries, outcomes(run), run.stopped)
    mirrored = {c.origin for c in plan.canaries for t in tampered if under(t.split()[0], c.node)}
    assert "tests/test_calc.py::test_add" in mirrored  # each of its parametrizations
    assert len([t for t in tampered if "::test_add[" in t]) == 2
    assert "tests/test_calc.py::test_mul" in mirrored
    assert "tests/calc_async_test.py::test_async_add" in mirrored
    assert "tests/test_calc.py::DivTest::test_div" in mirrored
    assert "tests/test_calc.py::TestCalculator::test_sub" in mirrored
    assert "tests/test_calc.py::test_guarded" not in mirrored  # its assertion never runs
    assert not any("can only fail" in t for t in tampered)  # the reports themselves are true
    assert problems == []


def test_code_that_reads_the_expected_value_from_the_test_is_tampered(tmp_path: Path):
    root = project(tmp_path, calc=MIRROR)
    plan = make_canaries(ACCEPTANCE, reader(root), random.Random(4))
    run = run_with_canaries(root, plan, whole_suite=False)
    assert outcomes(run)["tests/test_calc.py::test_mul"] == "passed"
    tampered, _ = judge(plan.canaries, outcomes(run), run.stopped)
    assert len(tampered) == 1
    assert re.match(
        r"tests/test_calc_\w+\.py::test_mul passed, yet .*a mutant of "
        r"tests/test_calc.py::test_mul",
        tampered[0],
    )


def test_a_conftest_rewriting_every_report_passes_plain_canaries(tmp_path: Path):
    wrong = HONEST.replace("return a * b", "return 0")
    root = project(tmp_path, calc=wrong, conftest=REWRITES_REPORTS)
    plan = make_canaries(ACCEPTANCE, reader(root), random.Random(5))
    run = run_with_canaries(root, plan, whole_suite=False)
    tampered, _ = judge(plan.canaries, outcomes(run), run.stopped)
    plain = [c.node for c in plan.canaries if c.kind == PLAIN]
    assert all(
        any(t.startswith(f"{node} passed, yet it can only fail") for t in tampered)
        for node in plain
    )


def test_code_rewriting_the_outcomes_file_at_exit_changes_nothing(tmp_path: Path):
    """Outcomes once came from a file the code under test could rewrite at exit, and then
    only the canaries showed it. They now stream on a socket that takes one connection
    (gates/channel.py): the rewrite reaches nothing, the failure stands, no canary lies."""
    root = project(tmp_path, calc=REWRITES_OUTCOMES)
    plan = make_canaries(ACCEPTANCE, reader(root), random.Random(6))
    run = run_with_canaries(root, plan, whole_suite=False)
    assert outcomes(run)["tests/test_calc.py::test_mul"] == "failed"
    assert judge(plan.canaries, outcomes(run), run.stopped) == ([], [])


# -- the canary files ----------------------------------------------------------------------


def plan_of(files: dict[str, str], acceptance: list[str], seed: int = 0, **kw) -> CanaryPlan:
    return make_canaries(acceptance, files.get, random.Random(seed), **kw)


def module_of(plan: CanaryPlan) -> ast.Module:
    assert len(plan.files) == 1
    return ast.parse(plan.files[0].source)


def func(module: ast.Module, *path: str) -> ast.FunctionDef:
    body = module.body
    for name in path[:-1]:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == name).body
    found = next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == path[-1])
    return found


def test_canary_files_sit_beside_the_original_and_match_its_pattern():
    files = {
        "tests/test_mul.py": "def test_a():\n    assert f() == 1\n",
        "pkg/mul_test.py": "def test_b():\n    assert f() == 1\n",
    }
    plan = plan_of(files, ["tests/test_mul.py::test_a", "pkg/mul_test.py::test_b"])
    paths = [f.path for f in plan.files]
    assert re.fullmatch(r"tests/test_mul_[a-z]+\.py", paths[0])
    assert re.fullmatch(r"pkg/mul_[a-z]+_test\.py", paths[1])
    for file in plan.files:
        compile(file.source, file.path, "exec")


def test_canary_files_never_take_an_existing_path():
    files = {"tests/test_mul.py": "def test_a():\n    assert f() == 1\n"}
    first = plan_of(files, ["tests/test_mul.py"]).files[0].path
    files[first] = "# already here\n"
    assert plan_of(files, ["tests/test_mul.py"]).files[0].path != first


def test_canary_files_follow_configured_python_files():
    files = {"checks/check_mul.py": "def test_a():\n    assert f() == 1\n"}
    plan = plan_of(
        files, ["checks/check_mul.py::test_a"], collection=Collection(files=("check_*.py",))
    )
    assert re.fullmatch(r"checks/check_mul_[a-z]+\.py", plan.files[0].path)
    exact = plan_of(files, ["checks/check_mul.py"], collection=Collection(files=("check_mul.py",)))
    assert exact.files == [] and "no free file name" in exact.notes[0]


def test_only_mutants_and_plain_canaries_stay_collectable():
    source = (
        "import pytest\n\n\n@pytest.fixture\ndef test_value():\n    return 2\n\n\n"
        "def helper():\n    return test_reused\n\n\n"
        "def test_a(test_value):\n    assert f(test_value) == 4\n\n\n"
        "def test_b():\n    assert f(1) == 2\n\n\n"
        "def test_reused():\n    assert f(3) == 6\n\n\n"
        "class TestOther:\n    def test_c(self):\n        assert f(1) == 2\n"
    )
    plan = plan_of({"tests/test_f.py": source}, ["tests/test_f.py::test_a"])
    module = module_of(plan)
    defined = [n.name for n in module.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    plain = [c.node.split("::")[1] for c in plan.canaries if c.kind == PLAIN]
    assert defined == ["test_value", "helper", "test_a", "test_reused", *plain]
    assert "test_reused.__test__ = False" in plan.files[0].source


def test_a_mutant_keeps_its_name_decorators_and_fixtures():
    source = (
        "import pytest\n\n\n@pytest.mark.slow\n@pytest.mark.parametrize('x', [1, 2])\n"
        "def test_a(x, tmp_path):\n    assert f(x) == 4\n"
    )
    plan = plan_of({"tests/test_f.py": source}, ["tests/test_f.py::test_a[1]"])
    mutant = func(module_of(plan), "test_a")
    assert [ast.unparse(d) for d in mutant.decorator_list] == [
        "pytest.mark.slow",
        "pytest.mark.parametrize('x', [1, 2])",
    ]
    assert [a.arg for a in mutant.args.args] == ["x", "tmp_path"]
    assert plan.canaries[0] == Canary(
        f"{plan.files[0].path}::test_a[1]", MUTANT, "tests/test_f.py::test_a[1]", "tests/test_f.py"
    )


def mutated(body: str, seed: int = 0, method: bool = False) -> str:
    """The mutant of a test with this body, unparsed."""
    if method:
        source = "class TestX:\n    def test_a(self):\n" + _indent(body, 8)
        node = "tests/test_f.py::TestX::test_a"
    else:
        source = "def test_a():\n" + _indent(body, 4)
        node = "tests/test_f.py::test_a"
    plan = plan_of({"tests/test_f.py": source}, [node], seed)
    path = ("TestX", "test_a") if method else ("test_a",)
    return ast.unparse(func(module_of(plan), *path))


def _indent(body: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in body.splitlines())


def test_the_expected_side_of_an_equality_gets_a_fresh_value_of_its_type():
    assert re.search(r"assert mul\(2, 3\) == \d{5,}$", mutated("assert mul(2, 3) == 6"))
    assert re.search(r"assert -\d{5,} == mul\(-1, 3\)$", mutated("assert -3 == mul(-1, 3)"))
    assert re.search(r"assert name\(\) == '[a-z]+ [a-z]+'$", mutated("assert name() == 'a b'"))
    assert re.search(r"assert f\(\) == b'[a-z]+'$", mutated("assert f() == b'x'"))
    assert re.search(r"assert f\(\) == \d+\.\d+$", mutated("assert f() == 0.5"))
    assert re.search(r"assert expected == '[a-z]+'$", mutated("assert expected == got"))
    assert re.search(r"assert '[a-z]+' == f\(\)$", mutated("assert expected == f()"))


def test_a_name_gets_a_fresh_value_of_the_type_it_holds_and_none_of_its_values():
    source = (
        "import pytest\n\n\n@pytest.mark.parametrize('a, want', [(1, 2), pytest.param(2, 4)])\n"
        "def test_a(a, want):\n    label = 'two'\n    assert f(a) == want\n"
        "    assert g(a) == label\n"
    )
    texts = [
        ast.unparse(
            func(
                module_of(plan_of({"tests/test_f.py": source}, ["tests/test_f.py::test_a"], seed)),
                "test_a",
            )
        )
        for seed in range(8)
    ]
    numbers = [re.search(r"assert f\(a\) == (\d+)$", t, re.M) for t in texts]
    words = [re.search(r"assert g\(a\) == '([a-z]+)'$", t, re.M) for t in texts]
    assert all(n or w for n, w in zip(numbers, words, strict=True))
    assert any(numbers) and any(words)
    assert not {int(n.group(1)) for n in numbers if n} & {2, 4}


def test_one_leaf_of_a_container_changes_and_an_empty_one_is_filled():
    text = mutated("assert f() == [1, {'k': 'v'}]")
    value = ast.literal_eval(text.split(" == ")[1].strip())
    assert value != [1, {"k": "v"}] and len(value) == 2 and len(value[1]) == 1
    assert re.search(r"assert f\(\) == \['[a-z]+'\]$", mutated("assert f() == []"))


def test_unittest_assertions_are_mutated():
    assert re.search(
        r"self\.assertEqual\(div\(6, 3\), \d{5,}\)$",
        mutated("self.assertEqual(div(6, 3), 2)", method=True),
    )
    assert re.search(
        r"self\.assertTrue\(ok\(\) == '[a-z]+'\)$", mutated("self.assertTrue(ok())", method=True)
    )


def test_a_plain_assert_on_a_call_becomes_an_equality():
    assert re.search(
        r"assert is_prime\(7\) == '[a-z]+', 'msg'$", mutated("assert is_prime(7), 'msg'")
    )


def test_equalities_are_preferred_and_the_test_returns_right_after_its_mutant():
    text = mutated("assert ok()\nx = f()\nassert x == 3\nassert other(x)")
    assert re.search(
        r"assert ok\(\)\n    x = f\(\)\n    assert x == \d+\n    return\n"
        r"    assert other\(x\)$",
        text,
    )


def test_an_assertion_in_a_block_is_followed_by_return_and_the_body_ends_raising():
    text = mutated("total = f()\nif total > 100:\n    assert total == 1000\n    return")
    lines = text.splitlines()
    assert re.fullmatch(r" +assert total == \d+", lines[3])
    assert lines[4].strip() == "return"
    assert lines[5].strip().startswith("raise AssertionError(")  # the original return
    assert lines[6].startswith("    raise AssertionError(")  # not reached: fails


@pytest.mark.parametrize(
    "manager",
    [
        "pytest.raises(ValueError)",
        "self.subTest(i=1)",
        "subtests.test(i=1)",
        "suppress(AssertionError)",
    ],
)
def test_assertions_under_raises_or_subtests_are_never_mutated(manager: str):
    text = mutated(f"with {manager}:\n    assert f() == 1\nassert g() == 2")
    assert "assert f() == 1" in text and "assert g() == 2" not in text


def test_tests_without_a_mutant_are_noted_with_the_reason():
    source = (
        "from elsewhere import Base\n\n\nclass TestSub(Base):\n    pass\n\n\n"
        "def test_gen():\n    yield 1\n\n\ndef test_none():\n    f()\n\n\n"
        "def test_weak():\n    assert f() > 1\n"
    )
    nodes = [
        "tests/test_f.py::TestSub::test_inherited",
        "tests/test_f.py::test_gen",
        "tests/test_f.py::test_none",
        "tests/test_f.py::test_weak",
    ]
    plan = plan_of({"tests/test_f.py": source}, nodes)
    assert [c.kind for c in plan.canaries] == [PLAIN, PLAIN]
    assert plan.notes[0] == (
        "tests/test_f.py::TestSub::test_inherited: no mutant: not defined "
        "in tests/test_f.py (inherited from elsewhere, or generated)"
    )
    assert plan.notes[1] == "tests/test_f.py::test_gen: no mutant: a generator test"
    assert plan.notes[2].startswith("tests/test_f.py::test_none: no mutant: no assertion")
    assert plan.notes[3].startswith("tests/test_f.py::test_weak: no mutant: no assertion")


def test_unreadable_or_broken_files_get_no_canaries():
    plan = plan_of({"tests/test_b.py": "def test_(:\n"}, ["tests/test_a.py", "tests/test_b.py"])
    assert plan.files == [] and plan.canaries == []
    assert plan.notes == [
        "tests/test_a.py: cannot be read, so no canaries beside it",
        "tests/test_b.py: does not parse (line 1), so no canaries beside it",
    ]


def test_a_test_inherited_from_a_mixin_of_the_module_is_mutated_in_the_subclass():
    source = (
        "class Mixin:\n    kind = None\n\n    def test_shared(self):\n"
        "        assert make(self.kind) == 1\n\n    def test_other(self):\n"
        "        assert make(self.kind) == 2\n\n\n"
        "class TestList(Mixin):\n    kind = list\n\n\n"
        "class TestDict(Mixin):\n    kind = dict\n"
    )
    plan = plan_of({"tests/test_f.py": source}, ["tests/test_f.py::TestList::test_shared"])
    module = module_of(plan)
    mutant = func(module, "TestList", "test_shared")
    assert re.fullmatch(r"assert make\(self\.kind\) == \d+", ast.unparse(mutant.body[0]))
    mixin = next(n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Mixin")
    assert [ast.unparse(n) for n in mixin.body] == ["kind = None"]  # nothing left to inherit
    assert "TestDict" not in plan.files[0].source
    assert plan.canaries[0].origin == "tests/test_f.py::TestList::test_shared"


def test_a_whole_file_or_class_expands_to_each_test():
    source = (
        "def test_a():\n    assert f() == 1\n\n\nclass TestK:\n    def test_b(self):\n"
        "        assert f() == 2\n\n    class TestInner:\n        def test_c(self):\n"
        "            assert f() == 3\n"
    )
    whole = plan_of({"tests/test_f.py": source}, ["tests/test_f.py"])
    origins = [c.origin for c in whole.canaries if c.kind == MUTANT]
    assert origins == [
        "tests/test_f.py::test_a",
        "tests/test_f.py::TestK::test_b",
        "tests/test_f.py::TestK::TestInner::test_c",
    ]
    cls = plan_of({"tests/test_f.py": source}, ["tests/test_f.py::TestK"])
    assert [c.origin for c in cls.canaries if c.kind == MUTANT] == origins[1:]


def test_names_and_values_change_with_the_seed_and_never_give_the_game_away():
    files = {"tests/test_mul.py": "def test_mul():\n    assert mul(2, 3) == 6\n"}
    runs = [plan_of(files, ["tests/test_mul.py"], seed) for seed in range(20)]
    assert len({p.files[0].path for p in runs}) == 20
    assert len({p.files[0].source for p in runs}) == 20
    assert plan_of(files, ["tests/test_mul.py"], 7) == plan_of(files, ["tests/test_mul.py"], 7)
    unseeded = make_canaries(["tests/test_mul.py"], files.get, random.SystemRandom())
    assert len(unseeded.canaries) == 3  # what the tests gate uses: nothing to guess from
    for plan in runs:
        text = (plan.files[0].path + plan.files[0].source).lower()
        assert not any(word in text for word in GIVEAWAYS)


def test_plain_canaries_look_like_tests_that_can_only_fail():
    plan = plan_of({"tests/test_f.py": "def test_a():\n    pass\n"}, ["tests/test_f.py"])
    namespace: dict = {}
    exec(compile(plan.files[0].source, "canary", "exec"), namespace)
    for canary in plan.canaries:
        name = canary.node.split("::")[1]
        assert re.fullmatch(r"test_[a-z]+_[a-z]+", name)
        with pytest.raises(AssertionError):
            namespace[name]()


# -- judge -------------------------------------------------------------------------------

C = "tests/test_mul_velmor.py"
MUL = Canary(f"{C}::test_mul", MUTANT, "tests/test_mul.py::test_mul", "tests/test_mul.py")
ADD = Canary(f"{C}::test_add", MUTANT, "tests/test_mul.py::test_add", "tests/test_mul.py")
KEEPS = Canary(f"{C}::test_keeps_trasik", PLAIN, None, "tests/test_mul.py")


def test_judge_accepts_canaries_that_failed_or_errored():
    seen = {
        f"{C}::test_mul": "failed",
        f"{C}::test_keeps_trasik": "error",
        "tests/test_mul.py::test_mul": "passed",
    }
    assert judge([MUL, KEEPS], seen, stopped=False) == ([], [])


def test_judge_calls_a_passing_canary_tampered():
    seen = {f"{C}::test_mul": "passed", f"{C}::test_keeps_trasik": "xpassed"}
    tampered, problems = judge([MUL, KEEPS], seen, stopped=False)
    assert tampered == [
        f"{C}::test_mul passed, yet it expects a value made up for this run (a mutant of "
        "tests/test_mul.py::test_mul): the code under test mirrors what the tests expect, "
        "or outcomes are rewritten",
        f"{C}::test_keeps_trasik xpassed, yet it can only fail: test outcomes are rewritten",
    ]
    assert problems == []


def test_judge_checks_every_parametrized_item():
    seen = {
        f"{C}::test_add[1-2]": "failed",
        f"{C}::test_add[2-3]": "passed",
        f"{C}::test_add[3-4]": "failed",
        f"{C}::test_added": "passed",
    }
    tampered, _ = judge([ADD], seen, stopped=False)
    assert len(tampered) == 1 and tampered[0].startswith(f"{C}::test_add[2-3] passed")


def test_judge_accepts_a_skip_only_when_the_origin_was_skipped_too():
    own = {
        f"{C}::test_add[a]": "skipped",
        "tests/test_mul.py::test_add[a]": "skipped",
        f"{C}::test_mul": "xfailed",
        "tests/test_mul.py::test_mul": "xpassed",
    }
    assert judge([ADD, MUL], own, stopped=False) == ([], [])
    other = {
        f"{C}::test_add[a]": "skipped",
        "tests/test_mul.py::test_add[a]": "passed",
        f"{C}::test_keeps_trasik": "skipped",
    }
    _, problems = judge([ADD, KEEPS], other, stopped=False)
    assert problems == [
        f"{C}::test_add[a]: skipped, though what it mirrors was not: something other than "
        "the test's own marks skipped it",
        f"{C}::test_keeps_trasik: skipped, though what it mirrors was not: something other "
        "than the test's own marks skipped it",
    ]
    module_skip = {f"{C}::test_keeps_trasik": "skipped", "tests/test_mul.py::test_mul": "skipped"}
    assert judge([KEEPS], module_skip, stopped=False) == ([], [])


def test_judge_matches_a_plain_canary_skip_with_the_fixture_parametrization_it_shares():
    # an autouse fixture of the conftest parametrizes every test; one of its params skips
    seen = {
        f"{C}::test_keeps_trasik[fast]": "failed",
        f"{C}::test_keeps_trasik[slow]": "skipped",
        "tests/test_mul.py::test_mul[fast-2]": "passed",
        "tests/test_mul.py::test_mul[slow-2]": "skipped",
    }
    assert judge([KEEPS], seen, stopped=False) == ([], [])
    seen["tests/test_mul.py::test_mul[slow-2]"] = "passed"
    assert len(judge([KEEPS], seen, stopped=False).problems) == 1


def test_judge_flags_canaries_not_collected_unless_the_run_stopped_early():
    ran = {"tests/test_mul.py::test_mul": "passed"}
    _, problems = judge([MUL, KEEPS], ran, stopped=False)
    assert problems == [
        f"{C}::test_mul: not collected, though tests/test_mul.py::test_mul ran: "
        "the run cannot be trusted",
        f"{C}::test_keeps_trasik: not collected, though tests/test_mul.py ran: "
        "the run cannot be trusted",
    ]
    assert judge([MUL, KEEPS], ran, stopped=True) == ([], [])
    assert judge([MUL], {"tests/test_mul.py::test_add": "passed"}, stopped=False) == ([], [])
