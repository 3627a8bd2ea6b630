"""The downstream gate: a dependent repository's suite, against the base and the candidate."""

from __future__ import annotations

import pytest
from conftest import PYPROJECT
from gatekit import at_base, config, context

from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.downstream import DownstreamGate
from overnight.gates.pytest_run import Pinned
from overnight.testing import make_repo

CALC = "def add(a, b):\n    return a + b\n"
APP = (
    "from calc import add\n\n\ndef total(xs):\n    out = 0\n    for x in xs:\n"
    "        out = add(out, x)\n    return out\n"
)
TEST_APP = (
    "from app import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 6\n\n\n"
    "def test_empty():\n    assert total([]) == 0\n"
)


@pytest.fixture
def app(tmp_path):
    # calc's dependency files and setup: the same cached environment as the end-to-end tests
    return make_repo(
        tmp_path / "app",
        {"app.py": APP, "tests/test_app.py": TEST_APP, "pyproject.toml": PYPROJECT},
    )


def graded(tmp_path, name, change, repos, base=None, sandbox="none", packages=()):
    ctx = context(
        tmp_path,
        base or {"calc.py": CALC},
        change,
        name=name,
        sandbox=sandbox,
        config=config(f"[gates.downstream]\nrepos = [{repos}]\n"),
    )
    ctx.pinned = Pinned(packages=list(packages))
    gate = DownstreamGate()
    with at_base(ctx):
        ctx.baseline.gates["downstream"], log = gate.measure(ctx)
    return gate.check(ctx)


def test_a_change_that_breaks_a_downstream_suite_fails_naming_its_tests(home, tmp_path, app):
    repos = (
        '{repo = "../app", setup = ["python -m pip install pytest"], '
        'test_cmd = "python -m pytest -q"}'
    )
    broken = graded(tmp_path, "broken", {"calc.py": CALC.replace("a + b", "a - b")}, repos)
    assert broken.verdict == FAIL
    assert broken.summary == "1 downstream test(s) broken: app: tests/test_app.py::test_total"
    assert "app: tests/test_app.py::test_total passed against the base, failed now" in (
        broken.feedback
    )
    mul = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
    honest = graded(tmp_path, "honest", {"calc.py": mul}, repos)
    assert honest.verdict == PASS, honest.log
    assert honest.summary == "2 downstream test(s) in 1 repository still pass"


def test_a_downstream_repository_that_cannot_be_fetched_is_an_error(home, tmp_path):
    result = graded(tmp_path, "calc", {"calc.py": CALC + "\n"}, '{repo = "../missing"}')
    assert result.verdict == ERROR
    assert result.summary.startswith("could not check: missing: cannot prepare")


PKG_APP = APP.replace("from calc import add", "from calcpkg import add")
PKG_TEST = TEST_APP


def test_under_bwrap_the_downstream_suite_runs_against_the_candidate(home, tmp_path, monkeypatch):
    """The downstream run used to see no grading clone under bwrap: both sides failed to
    import the project and the gate said 'pass: 0 downstream tests still pass'."""
    make_repo(
        tmp_path / "app",
        {"app.py": PKG_APP, "tests/test_app.py": PKG_TEST, "pyproject.toml": PYPROJECT},
    )
    repos = (
        '{repo = "../app", setup = ["python -m pip install pytest"], '
        'test_cmd = "python -m pytest -q"}'
    )
    base = {"calcpkg/__init__.py": CALC}
    broken = graded(
        tmp_path,
        "broken",
        {"calcpkg/__init__.py": CALC.replace("a + b", "a - b")},
        repos,
        base=base,
        sandbox="bwrap",
        packages=["calcpkg"],
    )
    assert broken.verdict == FAIL, broken.log
    honest = graded(
        tmp_path,
        "honest",
        {"calcpkg/__init__.py": CALC + "\n"},
        repos,
        base=base,
        sandbox="bwrap",
        packages=["calcpkg"],
    )
    assert honest.verdict == PASS, honest.log
    assert honest.summary == "2 downstream test(s) in 1 repository still pass"


def test_a_downstream_suite_that_never_ran_is_an_error_not_a_pass(home, tmp_path):
    make_repo(
        tmp_path / "app",
        {"app.py": PKG_APP, "tests/test_app.py": PKG_TEST, "pyproject.toml": PYPROJECT},
    )
    repos = (
        '{repo = "../app", setup = ["python -m pip install pytest"], '
        'test_cmd = "python -m pytest -q -k no_such_test"}'
    )
    result = graded(
        tmp_path,
        "calc",
        {"calcpkg/__init__.py": CALC + "\n"},
        repos,
        base={"calcpkg/__init__.py": CALC},
        packages=["calcpkg"],
    )
    assert result.verdict == ERROR
    assert "no downstream test passed against the base" in result.summary
