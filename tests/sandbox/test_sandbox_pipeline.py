"""End to end with `sandbox = "bwrap"` and `sandbox = "container"` (podman): setup,
agent and every gate run sandboxed, and the task still reaches READY with host-side
git committing the result."""

from __future__ import annotations

import json

import pytest
from conftest import CALC, TEST_CALC, drain

from overnight.intake import submit_text
from overnight.store import Store
from overnight.testing import make_repo
from overnight.views import latest_artifact, task_detail

from .conftest import need_bwrap

TEST_MUL = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
# The agent writes the fix from inside the sandbox and shows where it ran.
AGENT = (
    "command:printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"
    ' && test -r "$OVERNIGHT_SPEC" && test -r "$OVERNIGHT_FEEDBACK_FILE"'
    " && echo host=$(hostname) uid=$(id -u)"
    " && (python -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 3)'"
    " 2>&1 | tail -1)"
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bwrap", pytest.param("container", marks=pytest.mark.container)])
def test_a_task_in_the_sandbox_reaches_ready(store: Store, tmp_path, kind, request, monkeypatch):
    if kind == "bwrap":
        need_bwrap()
    else:
        request.getfixturevalue("podman_image")
        monkeypatch.setenv("OVERNIGHT_CONTAINER_ENGINE", "podman")
    repo = make_repo(
        tmp_path / "calc",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": 'setup = ["python -m pip install pytest"]\n'
            'test_cmd = "python -m pytest -q"\nlint_cmd = "ruff check"\n'
            f'sandbox = "{kind}"\n',
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
        },
    )
    (tmp_path / "test_mul.patch").write_text(
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,5 @@\n"
        + "".join(f"+{line}\n" for line in TEST_MUL.splitlines())
    )
    spec = tmp_path / "mul.md"
    spec.write_text(f"""---
title: Add mul to calc
repo: {repo}
acceptance:
  - tests: tests/test_mul.py::test_mul
  - test_patch: test_mul.patch
    hidden: true
agent: {json.dumps(AGENT)}
---
Add `mul(a, b)` to calc.py, returning the product of its arguments.
""")
    task_id = submit_text(store, spec.read_text(), source="mul.md", base_dir=tmp_path).task.id
    drain(store)
    with store.session() as session:
        task = store.task(session, task_id)
        detail = task_detail(session, task)
        agent_log = latest_artifact(session, task, "step-agent-") or ""
    assert detail["status"] == "ready", detail["failure_reason"]
    verdicts = {g["name"]: g["verdict"] for g in detail["runs"][0]["gates"]}
    assert verdicts["tests"] == "pass" and verdicts["lint"] == "pass"
    assert "host=overnight uid=2" in agent_log  # ran in the sandbox, as a task uid
    assert "Network is unreachable" in agent_log
    assert "def mul" in detail["diff"]
