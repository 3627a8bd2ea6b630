"""`overnight demo`: the bundled sample repository and its three tasks end as expected."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from overnight import demo
from overnight.cli import main
from overnight.errors import UsageError
from overnight.spec import lint_text
from overnight.store import Store, Task
from overnight.testing.llm_server import ScriptedLLMServer
from overnight.views import short_command, task_detail


def details(store: Store) -> dict[str, dict]:
    with store.session() as session:
        tasks = session.scalars(select(Task).order_by(Task.id))
        return {t.title: task_detail(session, t) for t in tasks}


@pytest.mark.slow
def test_demo_ends_ready_ready_after_feedback_and_failed_for_gaming(store, tmp_path):
    result = CliRunner().invoke(main, ["demo", "--scripted", "--dir", str(tmp_path / "demo")])

    assert result.exit_code == 0, result.output
    tasks = details(store)
    easy = tasks["Add average_word_length to textstats"]
    medium = tasks["Break ties in top_words alphabetically"]
    gamed = tasks["Keep accented and hyphenated words whole in words()"]
    assert (easy["status"], easy["attempts"]) == ("ready", 1)
    assert (medium["status"], medium["attempts"]) == ("ready", 2)
    first_try = [g for g in medium["runs"][0]["all_gates"] if g["attempt"] == 1]
    assert {g["name"]: g["verdict"] for g in first_try}["tests"] == "fail"
    assert "tests/test_textstats.py::test_top_words" in next(
        g["summary"] for g in first_try if g["name"] == "tests"
    )
    assert gamed["status"] == "failed"
    assert gamed["failing_gates"] == ["scope", "tests"]
    assert gamed["pull_request"] is None
    gates = {g["name"]: g["summary"] for g in gamed["runs"][0]["gates"]}
    assert "overnight.toml" in gates["scope"] and "tests/test_words_unicode.py" in gates["scope"]
    assert "test_words_holdout.py" in gates["tests"]
    repo = tmp_path / "demo" / "repo"
    for task in (easy, medium):
        branch_head = subprocess.run(
            ["git", "rev-parse", task["branch"]], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
        assert branch_head == task["head_sha"]
    assert "stands in for an LLM" in result.output
    assert "3 of 3 tasks ended as expected" in result.output
    assert "approve 1" in result.output and "reject 3" in result.output


def plan_demo(tmp_path: Path, chars_test: str) -> tuple[object, str]:
    """``overnight demo --plan`` on the scripted model: chars, then lines after it."""
    from test_plan import answer, new_test, spec

    chars = new_test("tests/test_chars.py", chars_test)
    lines = new_test(
        "tests/test_lines.py",
        "import textstats\n\n\ndef test_line_count():\n"
        "    assert textstats.line_count('a\\nb') == 2",
    )
    plan = answer(
        spec("chars", chars, scope=["textstats.py"]),
        spec("lines", lines, ["chars"], scope=["textstats.py"]),
    )
    with ScriptedLLMServer([plan]) as server:
        result = CliRunner().invoke(
            main,
            ["demo", "--plan", "--model", server.model_name, "--dir", str(tmp_path / "demo")],
        )
        asked = server.requests[0].body["messages"][0]["content"]
    return result, asked


@pytest.mark.slow
def test_demo_plan_prints_the_graph_and_queues_a_proven_plan(store, tmp_path):
    result, asked = plan_demo(
        tmp_path,
        "import textstats\n\n\ndef test_char_count():\n    assert textstats.char_count('a b') == 3",
    )

    assert result.exit_code == 0, result.output
    assert "line_count(text)" in asked and "textstats.py" in asked
    assert "01 chars  [proven]" in result.output
    assert "02 lines  [proven]  <- chars" in result.output
    assert "edges: chars -> lines" in result.output
    with store.session() as session:
        tasks = session.scalars(select(Task).order_by(Task.id)).all()
        queued = [(t.title, t.status) for t in tasks]
        waits = tasks[1].spec["depends_on"]
    assert queued == [("Add chars to calc", "queued"), ("Add lines to calc", "queued")]
    assert waits == [{"task": tasks[0].id, "until": "ready"}]
    assert f"queued task {tasks[1].id}: lines" in result.output


@pytest.mark.slow
def test_demo_plan_with_an_unproven_spec_shows_why_and_queues_nothing(store, tmp_path):
    result, _ = plan_demo(  # an import error at the base: not collected
        tmp_path,
        "from textstats import char_count\n\n\ndef test_char_count():\n"
        "    assert char_count('a b') == 3",
    )

    assert result.exit_code == 1
    assert "01 chars  [does-not-collect]" in result.output
    assert "cannot import name 'char_count'" in result.output
    assert "not queued: 1 of 2 spec(s) not proven" in result.output
    with store.session() as session:
        assert session.scalars(select(Task)).all() == []


def test_demo_plan_refuses_scripted_agents(tmp_path: Path):
    result = CliRunner().invoke(main, ["demo", "--plan", "--scripted", "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "--plan asks a model for the plan: give --model, not --scripted" in result.stderr


def test_demo_rerun_starts_from_a_fresh_directory(tmp_path: Path):
    first = demo.create(tmp_path / "demo")
    (first.repo / "leftover.txt").write_text("from the previous demo")

    second = demo.create(tmp_path / "demo")

    assert not (second.repo / "leftover.txt").exists()
    assert (second.repo / "textstats.py").is_file()
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=second.repo, capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) == 1
    assert "@AGENTS@" not in (second.specs / "1-average-word-length.md").read_text()


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(tmp_path: Path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")

    with pytest.raises(UsageError, match="not made by 'overnight demo'"):
        demo.create(precious)

    assert (precious / "notes.txt").read_text() == "keep me"


def test_demo_specs_have_no_lint_errors(tmp_path: Path):
    made = demo.create(tmp_path / "demo")

    for expected in demo.EXPECTED:
        spec = made.specs / expected.spec
        problems = lint_text(spec.read_text(), spec.parent)
        assert problems == [], [p.format(spec.name) for p in problems]


def test_a_multi_line_command_shows_its_first_line_and_how_many_follow():
    heredoc = "cat > src/slug.py <<'EOF'\n" + "x = 1\n" * 22 + "EOF\n"

    assert short_command(heredoc) == "cat > src/slug.py <<'EOF' … (+23 lines)"
    assert short_command("\n  ls -la  \n\n") == "ls -la"
    assert short_command("echo a\necho b") == "echo a … (+1 line)"
    assert short_command("echo " + "x" * 100, width=20) == "echo " + "x" * 14 + "…"
    assert short_command("") == ""
