"""Fixtures of the red team: the default set-up (worker as root, bwrap sandbox), host
places the sandbox must not reach, and a verdict line per attack printed at the end.

Every attack on the sandbox's boundary runs twice: in the bwrap sandbox and in the
container sandbox on podman (``[container]``, marked slow). A module whose attacks
are judged on the host, from data the sandbox hands back whatever sandbox it is
(the cheats on the tests and their configuration, the tricks the gates catch, the
change's bounds, the keys' masking), is marked ``bwrap_only``: each container
command costs 1-2 s more, and running those twice would test the same host code
again for ~25 minutes of CI. The suite FAILS (never skips) when
bubblewrap is missing or the worker is not root: the set-up it attacks is the
default one, and an attack that cannot run proves nothing. The container runs
skip, saying why, only where podman cannot run a container.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sandbox.conftest import need_bwrap, podman_image  # noqa: F401  (a fixture)

from overnight.store import open_store

from .harness import (
    HONEST_MUL,
    Outcome,
    Outside,
    Task_,
    calc_repo,
    hidden_test,
    run_task,
    token,
    write,
)

VERDICTS: list[tuple[str, str]] = []


CONTAINER = pytest.param("container", marks=[pytest.mark.slow, pytest.mark.container])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each attack in both sandboxes, unless it (or its module) is ``bwrap_only``."""
    if "default_setup" in metafunc.fixturenames:
        module = getattr(metafunc.module, "pytestmark", [])
        marks = [
            *metafunc.definition.iter_markers(),
            *(module if isinstance(module, list) else [module]),
        ]
        host_judged = any(mark.name == "bwrap_only" for mark in marks)
        params = ["bwrap"] if host_judged else ["bwrap", CONTAINER]
        metafunc.parametrize("default_setup", params, indirect=True)


@pytest.fixture(autouse=True)
def default_setup(
    home: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """The `home` fixture's isolation, with the sandbox overnight uses by default, then
    with the container one (the fixture project names none: $OVERNIGHT_SANDBOX decides)."""
    need_bwrap()
    if os.geteuid() != 0:
        pytest.fail(
            "the red team attacks the default set-up, a worker running as root: run it as root",
            pytrace=False,
        )
    if request.param == "container":
        request.getfixturevalue("podman_image")
        monkeypatch.setenv("OVERNIGHT_CONTAINER_ENGINE", "podman")
    monkeypatch.setenv("OVERNIGHT_SANDBOX", request.param)
    return home


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    """A host folder outside every workspace, with sentinel files in it."""
    place = Outside(tmp_path / "outside")
    place.sentinels.mkdir(parents=True)
    for name in ("test_mul.py", "test_calc.py", "conftest.py", "keep.txt"):
        (place.sentinels / name).write_text(f"sentinel {name}\n")
    (place.sentinels / "sub").mkdir()
    (place.sentinels / "sub" / "deep.txt").write_text("sentinel deep\n")
    return place


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return calc_repo(tmp_path / "calc")


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return tmp_path / "specs"


@pytest.fixture(scope="session")
def warm_cache(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's cache with the fixture project's environment built (by an honest task)."""
    place = tmp_path_factory.mktemp("warm")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OVERNIGHT_HOME", str(place / "home"))
        env.setenv("OVERNIGHT_CACHE", str(shared_cache))
        env.setenv("OVERNIGHT_SANDBOX", "bwrap")
        env.delenv("OVERNIGHT_DATABASE_URL", raising=False)
        store = open_store()
        try:
            done = run_task(
                store,
                Task_(
                    calc_repo(place / "calc"),
                    write("calc.py", HONEST_MUL),
                    place / "specs",
                    hidden=hidden_test(token()),
                ),
            )
        finally:
            store.engine.dispose()
    assert done.ready, f"the honest task that builds the environment: {done.line()}"
    return shared_cache


@pytest.fixture
def private_cache(tmp_path: Path, warm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, a copy of the session's built environments: an attack
    that poisons it cannot spoil the other tests."""
    cache = tmp_path / "cache"
    envs = warm_cache / "envs"
    if envs.is_dir():
        shutil.copytree(
            envs, cache / "envs", symlinks=True, ignore=shutil.ignore_patterns("*.lock")
        )
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("OVERNIGHT_CACHE", str(cache))
    return cache


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record an attack's result for the summary printed at the end of the run."""

    def record(outcome: Outcome, *notes: str) -> None:
        extra = "; ".join(n for n in notes if n)
        VERDICTS.append((request.node.name, outcome.line() + (f"; {extra}" if extra else "")))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not VERDICTS:
        return
    terminalreporter.section("red team: each task's end")
    for name, line in VERDICTS:
        terminalreporter.write_line(f"{name}: {line}")
