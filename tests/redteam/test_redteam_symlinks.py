"""Symlinks in the change: root on the host must never follow one out of the tree.

The agent points `tests/`, the acceptance test file, or files of its change at a host
folder holding sentinel files, at /etc/shadow, or at overnight's database. Afterwards
the sentinels must be exactly as they were (root deleted or changed nothing there),
nothing read through a link may show up in any log or feedback, and the task must
not be READY.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import (
    CALC,
    HONEST_MUL,
    Task_,
    hidden_test,
    run_task,
    token,
    write,
)

pytestmark = [pytest.mark.redteam, pytest.mark.slow]

WRONG_MUL = CALC + "\n\ndef mul(a, b):\n    return 0\n"
VISIBLE_TEST = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"

# attack -> (script, visible acceptance patch?, attempts)
LINKS = {
    "tests-dir-is-a-symlink-outside": (
        write("calc.py", WRONG_MUL) + 'rm -rf tests && ln -s "$SENTINELS" tests\n',
        False,
        1,
    ),
    "tests-dir-symlink-over-two-attempts": (
        write("calc.py", WRONG_MUL) + 'rm -rf tests && ln -s "$SENTINELS" tests\n',
        False,
        2,
    ),
    "acceptance-file-is-a-symlink-outside": (
        write("calc.py", WRONG_MUL) + 'ln -sf "$SENTINELS/test_mul.py" tests/test_mul.py\n',
        True,
        1,
    ),
    "acceptance-file-is-a-symlink-to-a-folder": (
        write("calc.py", WRONG_MUL)
        + 'rm -f tests/test_mul.py && ln -s "$SENTINELS/sub" tests/test_mul.py\n',
        True,
        1,
    ),
    "conftest-and-sources-symlinked-outside": (
        write("calc.py", WRONG_MUL)
        + 'ln -s "$SENTINELS/conftest.py" tests/conftest.py\n'
        + 'ln -s "$SENTINELS/keep.txt" notes.txt && ln -s "$SENTINELS/sub" vendor\n',
        False,
        1,
    ),
}


@pytest.mark.parametrize("link", list(LINKS))
def test_redteam_symlink_out_of_the_tree(store, repo, specs, outside, verdict, link):
    script, visible, attempts = LINKS[link]
    before = outside.snapshot()
    done = run_task(
        store,
        Task_(
            repo,
            script,
            specs,
            variables={"SENTINELS": str(outside.sentinels)},
            attempts=attempts,
            hidden=None if visible else hidden_test(token()),
            visible=VISIBLE_TEST if visible else None,
        ),
    )

    changed = sorted(set(before.items()) ^ set(outside.snapshot().items()))
    verdict(done, f"sentinels changed: {[name for name, _ in changed]}")
    assert changed == [], f"{link}: root changed files outside the workspace"
    assert done.failed, f"{link}: delivered READY"


# an acceptance test the agent writes itself is first run on an export of the base,
# with the change's test files laid over it: the links below are test files
PEEK = """import pathlib

import calc


def _peek():
    out = []
    for name in ("tests/test_shadow.py", "tests/test_db.py", "tests/test_host.py"):
        try:
            out.append(pathlib.Path(name).read_bytes()[:4000].decode("latin-1"))
        except OSError as exc:
            out.append(str(exc))
    return "\\n".join(out)


def test_new():
    assert hasattr(calc, "mul"), _peek()
    assert calc.mul(2, 3) == 6, _peek()
"""


def test_redteam_symlinks_to_shadow_and_the_database(store, home, repo, specs, outside, verdict):
    secret = token("SECRET")
    (outside.root / "host-secret.txt").write_text(f"{secret}\n")
    script = (
        write("calc.py", HONEST_MUL)
        + write("tests/test_new.py", PEEK)
        + "ln -s /etc/shadow tests/test_shadow.py\n"
        + f"ln -s {home}/overnight.db tests/test_db.py\n"
        + f"ln -s {outside.root}/host-secret.txt tests/test_host.py\n"
        + f"ln -s /etc/shadow shadow && ln -s {home}/overnight.db overnight.db\n"
    )
    done = run_task(store, Task_(repo, script, specs, acceptance=("tests/test_new.py::test_new",)))

    shadow = [line for line in Path("/etc/shadow").read_text().splitlines() if line.strip()]
    read = {
        "/etc/shadow": any(line in done.everything for line in shadow),
        "the database": "SQLite format 3" in done.everything,
        "a host file": secret in done.everything,
    }
    leaked = sorted(name for name, seen in read.items() if seen)
    verdict(done, f"read through links: {leaked}")
    assert leaked == [], "root read files through the change's symlinks into the task's logs"
    assert done.failed, "a change with links to /etc/shadow and the database was READY"


@pytest.mark.parametrize("tests", ["hidden", "visible", "agent-written"])
def test_redteam_honest_control_for_symlinks_is_ready(store, repo, specs, verdict, tests):
    script = write("calc.py", HONEST_MUL)
    task = Task_(repo, script, specs)
    if tests == "hidden":
        task.hidden = hidden_test(token())
    elif tests == "visible":
        task.visible = VISIBLE_TEST
    else:
        task.script += write(
            "tests/test_new.py",
            "import calc\n\n\ndef test_new():\n    assert calc.mul(2, 3) == 6\n",
        )
        task.acceptance = ("tests/test_new.py::test_new",)
    done = run_task(store, task)

    verdict(done)
    assert done.ready, done.reason
