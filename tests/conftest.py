"""Shared fixtures: an isolated overnight home per test, a shared environment
cache per session (virtualenvs are built once), and real sample repositories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres import fresh_database, server

from overnight.spec.model import Spec
from overnight.store import Store, open_store
from overnight.testing import make_repo, run_until_idle

CALC = """def add(a, b):
    return a + b
"""

TEST_CALC = """from calc import add


def test_add():
    assert add(1, 2) == 3


def test_add_negative():
    assert add(-1, -2) == -3
"""

TEST_MUL = """from calc import mul


def test_mul():
    assert mul(2, 3) == 6
"""

# repositories that run their tests with this venv's Python, not a built one: its dev
# plugins (schemathesis, hypothesis, playwright) are not theirs and cost 3 s at every
# pytest start; overnight's own plugins are loaded with -p, so they still run
INHERIT = 'environment = "inherit"\nenv = {PYTEST_DISABLE_PLUGIN_AUTOLOAD = "1"}\n'
OVERNIGHT_TOML = """setup = ["python -m pip install pytest"]
test_cmd = "python -m pytest -q"
lint_cmd = "ruff check"
"""

PYPROJECT = """[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MUL_FIX = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,6 @@
 def add(a, b):
     return a + b
+
+
+def mul(a, b):
+    return a * b
"""


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def home(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("OVERNIGHT_HOME", str(home))
    monkeypatch.setenv("OVERNIGHT_CACHE", str(shared_cache))
    # explicitly unisolated unless a test's repository asks for a sandbox (tests/sandbox/
    # does): many tests' scripted agents record what they saw outside the workspace
    monkeypatch.setenv("OVERNIGHT_SANDBOX", "none")
    monkeypatch.delenv("OVERNIGHT_DATABASE_URL", raising=False)
    return home


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that set ``BOTH_DATABASES = True`` run every test using the
    ``store`` fixture on SQLite and on PostgreSQL."""
    if "store" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_DATABASES", False):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with server() as url:
        yield url


@pytest.fixture
def store(
    home: Path, database: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The store of this test; on PostgreSQL a fresh database, which worker
    subprocesses find through ``OVERNIGHT_DATABASE_URL``."""
    if database == "sqlite":
        store = open_store()
        yield store
        store.engine.dispose()
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        monkeypatch.setenv("OVERNIGHT_DATABASE_URL", url)
        store = open_store(url)
        yield store
        store.engine.dispose()


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    """A small project: calc.py with add(), its tests, ruff and pytest configured."""
    return make_repo(
        tmp_path / "calc",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": OVERNIGHT_TOML,
            "pyproject.toml": PYPROJECT,
        },
    )


@pytest.fixture
def mul_spec(tmp_path: Path, calc_repo: Path):
    """Write a spec asking for mul(); returns a function taking the agent command
    (and optional extra front matter) and returning the spec's path."""
    (tmp_path / "test_mul.patch").write_text(
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,5 @@\n"
        + "".join(f"+{line}\n" for line in TEST_MUL.splitlines())
    )
    (tmp_path / "mul.diff").write_text(MUL_FIX)

    def write(agent: str, extra: str = "", hidden: bool = True, name: str = "mul.md") -> Path:
        spec = tmp_path / name
        spec.write_text(f"""---
title: Add mul to calc
repo: {calc_repo}
acceptance:
  - tests: tests/test_mul.py::test_mul
  - test_patch: test_mul.patch
    hidden: {str(hidden).lower()}
agent: {agent!r}
{extra}---
Add `mul(a, b)` to calc.py, returning the product of its arguments.
""")
        return spec

    return write


def drain(store: Store, slots: int = 1) -> int:
    return run_until_idle(store, slots=slots)


__all__ = ["CALC", "INHERIT", "MUL_FIX", "Spec", "TEST_CALC", "drain"]
