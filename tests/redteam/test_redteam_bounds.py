"""Bounds: disk, file and diff sizes, file counts, path lengths, special files.

Each attack makes the right `mul` and adds something a change must not carry: 2 GB
written to the workspace (sparse, so the test stays quick), a 100 MB file, 100,000
files, a path longer than PATH_MAX, a fifo (and a device node, if the sandbox lets it
make one). None may be delivered READY, and the database must stay small: a change
too big to deliver is recorded as a reason, not as its bytes.
"""

from __future__ import annotations

import pytest

from .harness import (
    HONEST_MUL,
    Task_,
    database_size,
    hidden_test,
    run_task,
    token,
    write,
)

pytestmark = [pytest.mark.redteam, pytest.mark.slow]

MB = 1024 * 1024
SMALL_DATABASE = 5 * MB  # an honest task's database is well under 1 MB
LIMIT = 90  # seconds: a task still grading then is cancelled, and that is a finding

LONG_PATH = r"""
part=$(printf 'd%.0s' $(seq 200))
( for i in $(seq 24); do mkdir "$part" && cd "$part" || exit 1; done; echo deep > leaf.txt )
"""

BOUNDS = {
    "2GB-written-to-the-workspace": "truncate -s 2G big.bin\n",
    "100MB-file-in-the-change": "head -c 100M /dev/urandom > blob.bin\n",
    "100000-files": (
        "python3 -c \"import os; os.makedirs('many', exist_ok=True)\n"
        "for i in range(100000): open(f'many/f{i}', 'w').write(str(i))\"\n"
    ),
    "path-longer-than-PATH_MAX": LONG_PATH,
    "fifo-and-device-node": "mkfifo tests/pipe calc.fifo\nmknod null.dev c 1 3 2>&1 || true\n",
}


@pytest.mark.bwrap_only  # the change's bounds are checked on the host: see conftest.py
@pytest.mark.parametrize("bound", list(BOUNDS))
def test_redteam_oversized_or_special_change(store, home, repo, specs, outside, verdict, bound):
    script = write("calc.py", HONEST_MUL) + BOUNDS[bound]
    done = run_task(store, Task_(repo, script, specs, hidden=hidden_test(token())), limit=LIMIT)

    size = database_size(home)
    overran = f"still grading after {LIMIT} s: cancelled" if done.overran else ""
    carried = "leaf.txt" in done.diffs if bound == "path-longer-than-PATH_MAX" else None
    deep = "" if carried is None else f"the deep file in the change: {carried}"
    verdict(done, f"database: {size / MB:.1f} MB", overran, deep, f"markers: {outside.fired()}")
    assert not done.overran, f"{bound}: grading did not end within {LIMIT} s"
    assert done.failed, f"{bound}: delivered READY"
    assert size < SMALL_DATABASE, f"{bound}: the database grew to {size / MB:.0f} MB"


def test_redteam_honest_control_for_bounds_is_ready(store, home, repo, specs, verdict):
    done = run_task(
        store, Task_(repo, write("calc.py", HONEST_MUL), specs, hidden=hidden_test(token()))
    )

    size = database_size(home)
    verdict(done, f"database: {size / MB:.2f} MB")
    assert done.ready, done.reason
    assert size < SMALL_DATABASE
