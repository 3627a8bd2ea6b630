"""`overnight demo --model`: the built-in agent on the demo's three model specs; the
demo checks honesty only (READY with passing gates, or FAILED with evidence).
The scripted model server stands in for the model here; `make demo` uses the
embedded one."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from overnight import demo
from overnight.cli import main
from overnight.spec import lint_text
from overnight.store import Task
from overnight.testing.llm_server import ScriptedLLMServer, bash

CHAR_COUNT = """cat >> textstats.py <<'EOF'


def char_count(text: str) -> int:
    \"\"\"How many characters ``text`` has, spaces included.\"\"\"
    return len(text)
EOF"""


def test_model_demo_reports_ready_and_failed_tasks_honestly(store, tmp_path):
    script = [bash("cat textstats.py"), bash(CHAR_COUNT), bash("submit")]  # easy: done
    script += [bash("submit")] * 8  # medium, hard: gives up at once (sent back once), twice
    with ScriptedLLMServer(script) as server:
        result = CliRunner().invoke(
            main, ["demo", "--model", server.model_name, "--dir", str(tmp_path / "demo")]
        )

    assert result.exit_code == 0, result.output
    with store.session() as session:
        tasks = {t.title: t for t in session.scalars(select(Task).order_by(Task.id))}
        statuses = {title: t.status for title, t in tasks.items()}
        assert all(t.agent == f"builtin:{server.model_name}" for t in tasks.values())
    assert statuses == {
        "Add char_count to textstats": "ready",
        "Add average_word_length to textstats": "failed",
        "Break ties in top_words alphabetically": "failed",
    }
    assert "built-in agent on " + server.model_name in result.output
    assert "attempt 1 turn 2" in result.output and "$ cat >> textstats.py" in result.output
    assert "3 of 3 tasks ended as expected" in result.output
    assert "--transcript" in result.output and "replay" in result.output


def test_model_demo_specs_have_no_lint_errors(tmp_path):
    made = demo.create(tmp_path / "demo")

    for expected in demo.MODEL_EXPECTED:
        spec = made.specs / expected.spec
        problems = lint_text(spec.read_text(), spec.parent)
        assert problems == [], [p.format(spec.name) for p in problems]
