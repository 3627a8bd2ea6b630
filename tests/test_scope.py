"""The scope gate, and its globs: gitignore-like matching of changed paths."""

from __future__ import annotations

import pytest
from gatekit import context

from overnight.config import DEFAULT_PROTECTED
from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.scope import ScopeGate, matches
from overnight.spec import Spec
from overnight.spec.model import TestPatch

CALC = "def add(a, b):\n    return a + b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


@pytest.mark.parametrize(
    ("path", "glob"),
    [
        ("calc.py", "calc.py"),
        ("a/b/calc.py", "*.py"),  # no '/': the base name, anywhere
        ("src/pkg/mod.py", "src/**"),
        ("src/pkg/deep/mod.py", "src/**/mod.py"),
        ("src/mod.py", "src/**/mod.py"),
        ("tests/test_calc.py", "tests/"),  # 'dir/': everything under it
        ("docs/guide/index.md", "docs"),  # a directory name covers its contents
        ("src/pkg/migrations/0001.py", "migrations"),
        ("src/pkg/mod.py", "src/pkg"),
        ("build/x.txt", "/build/"),
    ],
)
def test_glob_matches(path, glob):
    assert matches(path, [glob])


@pytest.mark.parametrize(
    ("path", "glob"),
    [
        ("src/pkg/mod.py", "src/*.py"),  # '*' does not cross directories
        ("calc.pyc", "*.py"),
        ("docs.md", "docs"),
        ("a/tests/test_x.py", "tests/"),  # 'dir/' is anchored at the root
        ("srcx/mod.py", "src/**"),
        ("lib/build/x.txt", "/build/"),
    ],
)
def test_glob_does_not_match(path, glob):
    assert not matches(path, [glob])


@pytest.mark.parametrize(
    "path", ["overnight.toml", ".github/workflows/ci.yml", ".ci/run", "tox.ini", "noxfile.py"]
)
def test_configuration_and_ci_files_are_protected_by_default(path):
    assert matches(path, DEFAULT_PROTECTED)


def test_ordinary_source_and_test_files_are_not_protected_by_default():
    assert not matches("calc.py", DEFAULT_PROTECTED)
    assert not matches("tests/test_calc.py", DEFAULT_PROTECTED)


def test_a_change_to_a_protected_or_denied_file_fails_and_others_pass(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"calc.py": CALC + "\n", "tests/test_calc.py": TEST_CALC + "\n"},
    )
    ctx.spec.acceptance_tests = ["tests/test_calc.py::test_add"]
    ctx.protected = ["tests/test_calc.py"]
    result = ScopeGate().check(ctx)
    assert result.verdict == FAIL and result.summary == "1 file(s) out of scope: tests/test_calc.py"
    ctx.changed = ["calc.py"]
    assert ScopeGate().check(ctx).verdict == PASS


def test_scope_given_no_protection_for_the_acceptance_tests_is_an_error(tmp_path):
    patch = (
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,2 @@\n"
        "+def test_mul():\n+    assert True\n"
    )
    spec = Spec(
        title="Add mul",
        description="Add mul.",
        test_patches=[TestPatch("mul.diff", patch)],
        acceptance_tests=["tests/test_calc.py::test_add", "tests/test_mul.py::test_mul"],
    )
    ctx = context(
        tmp_path,
        {"calc.py": CALC, "tests/test_calc.py": TEST_CALC},
        {"calc.py": CALC + "\n"},
        spec=spec,
    )
    ctx.protected = ["overnight.toml", "tests/test_calc.py"]  # the patched file left out
    result = ScopeGate().check(ctx)
    assert result.verdict == ERROR
    assert result.summary.startswith(
        "cannot guard the acceptance tests: tests/test_mul.py not among the protected paths"
    )
    ctx.protected.append("tests/test_mul.py")
    assert ScopeGate().check(ctx).verdict == PASS
