"""Scope globs: gitignore-like matching of changed paths."""

from __future__ import annotations

import pytest

from overnight.config import DEFAULT_PROTECTED
from overnight.gates.scope import matches


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
