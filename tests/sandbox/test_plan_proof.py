"""`overnight plan` proves acceptance tests in the default sandbox: as root, `auto`
is bwrap, and the proposed test runs there (its hostname is the sandbox's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CALC, INHERIT, TEST_CALC

from overnight.planning.planner import make_plan
from overnight.testing import make_repo
from overnight.testing.llm_server import Say, ScriptedLLMServer

from .conftest import need_bwrap

WHERE = "import socket\n\n\ndef test_where():\n    assert socket.gethostname() == 'the-host'\n"


@pytest.mark.slow
def test_the_proof_runs_in_the_default_sandbox(
    tmp_path: Path, sandbox_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_bwrap()
    monkeypatch.delenv("OVERNIGHT_SANDBOX", raising=False)  # the default: auto, bwrap
    repo = make_repo(
        tmp_path / "calc",
        {
            "calc.py": CALC,
            "tests/test_calc.py": TEST_CALC,
            "overnight.toml": INHERIT + 'test_cmd = "python -m pytest -q"\n',
        },
    )
    lines = WHERE.splitlines()
    patch = f"--- /dev/null\n+++ b/tests/test_where.py\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(
        f"+{line}\n" for line in lines
    )
    node = {
        "id": "where",
        "title": "Report where it runs",
        "description": "- `tests/test_where.py` passes",
        "test_patch": patch,
    }
    feature = tmp_path / "feature.md"
    feature.write_text("Know where we run.\n")
    say = Say("```json\n" + json.dumps({"specs": [node]}) + "\n```")
    with ScriptedLLMServer([say]) as server:
        made = make_plan(feature, tmp_path / "out", repo=str(repo), model=server.model_name)
    (proved,) = made.nodes
    assert proved.status == "proven", proved.proof["evidence"]
    assert "'overnight'" in proved.proof["evidence"]  # bwrap's hostname, not the host's
