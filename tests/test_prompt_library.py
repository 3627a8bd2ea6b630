"""The prompt library and coding standards (agents/library.py, agents/standards.py):
templates by name from the repository at the base, the home, the built-in set;
standards read at the base; both recorded per run, shown by `show` and the API,
handed to command agents, grouped by the insights; `overnight prompts`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import OVERNIGHT_TOML, drain
from sqlalchemy import select

from overnight.agents.library import PROMPTS, PromptLibrary, library_at, repo_templates
from overnight.agents.standards import standards_at
from overnight.cli import main
from overnight.errors import ConfigError
from overnight.gates.settings import parse_config
from overnight.intake import submit_text
from overnight.store import Store, Task
from overnight.testing import make_repo
from overnight.testing.llm_server import ScriptedLLMServer, bash
from overnight.testing.repos import commit_all, write_files
from overnight.views import task_detail
from overnight.web.insights import report

WRITE_MUL = "printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py"
TEAM_TASK = "TEAM TASK PROMPT\n{{ spec }}\n{% for c in conventions %}[{{ c.path }}] {{ c.text }}\n{% endfor %}"


@pytest.fixture
def server():
    with ScriptedLLMServer() as server:
        yield server


def submit(store: Store, spec: Path) -> int:
    return submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id))


def cli(*args: str) -> tuple[int, str]:
    """Exit code and output: stdout, and stderr after it (where errors go)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout + result.stderr


def old_label(folder: Path) -> str:
    """How the prompt set was labelled before there was a library."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.j2")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"v1@{digest.hexdigest()[:12]}"


def test_a_name_comes_from_the_repository_then_the_home_then_the_built_in_set(home, tmp_path):
    (home / "prompts").mkdir(parents=True)
    (home / "prompts" / "system.j2").write_text("home system")
    (home / "prompts" / "task.j2").write_text("home task")
    repo = make_repo(tmp_path / "r", {".overnight/prompts/task.j2": "repo task"})

    library = library_at(repo)

    assert library.get("task").text == "repo task"
    assert library.get("task", "home").text == "home task"
    assert library.get("system").source == "home"
    assert library.get("stuck").source == "built-in"
    manifest = library.manifest()
    assert manifest["label"].startswith("v1+repo+home@")
    assert manifest["templates"]["task"] == {
        "hash": hashlib.sha256(b"repo task").hexdigest()[:12],
        "source": "repo",
        "path": ".overnight/prompts/task.j2",
    }
    with pytest.raises(ConfigError, match="no prompt 'roadmap' anywhere"):
        library.get("roadmap")


def test_only_built_in_templates_keep_the_label_runs_had_before(home, tmp_path):
    assert PromptLibrary().label == old_label(PROMPTS / "v1")
    assert library_at(make_repo(tmp_path / "r", {"a.txt": "a"})).label == old_label(PROMPTS / "v1")


def test_the_repositorys_templates_are_read_at_the_commit_not_from_the_working_tree(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            ".overnight/prompts/task.j2": "committed",
            ".overnight/prompts/nested/system.j2": "not a template of the set",
            ".overnight/prompts/notes.md": "not a template",
        },
    )
    sha = commit_all(repo, "same")
    (repo / ".overnight/prompts/task.j2").write_text("edited after the commit")
    (repo / ".overnight/prompts/system.j2").write_text("never committed")

    assert repo_templates(repo, sha) == {".overnight/prompts/task.j2": "committed"}


def test_a_repository_template_cannot_reach_pythons_internals(home, tmp_path):
    from overnight.agents.prompts import Prompts

    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    repo = make_repo(tmp_path / "r", {".overnight/prompts/system.j2": evil})
    prompts = Prompts(library=library_at(repo))

    with pytest.raises(ConfigError, match=r"prompt system \(repo: .overnight/prompts/system.j2\)"):
        prompts.render("system", protocol="text")


def test_standards_are_read_at_the_base_in_the_configured_order(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            "AGENTS.md": "agents",
            ".cursorrules": "cursor",
            "CLAUDE.md": "  \n",
            "docs/STYLE.md": "s",
        },
    )
    sha = commit_all(repo, "same")
    (repo / "CONVENTIONS.md").write_text("not committed")

    default = parse_config({}).standard_files()
    assert [(s.path, s.text) for s in standards_at(repo, sha, default)] == [
        ("AGENTS.md", "agents"),
        (".cursorrules", "cursor"),
    ]
    named = parse_config({"overnight.toml": 'standards = ["docs/STYLE.md", "AGENTS.md"]'})
    assert [s.path for s in standards_at(repo, sha, named.standard_files())] == [
        "docs/STYLE.md",
        "AGENTS.md",
    ]
    assert (
        standards_at(repo, sha, parse_config({"overnight.toml": "standards = []"}).standard_files())
        == []
    )


@pytest.mark.parametrize("bad", ['"/etc/passwd"', '"../x.md"', '"a//b.md"', "1"])
def test_standards_must_name_files_in_the_repository(bad):
    with pytest.raises(ConfigError, match="standards"):
        parse_config({"overnight.toml": f"standards = [{bad}]"})


def test_the_built_in_agent_gets_the_teams_prompts_and_standards_and_the_run_records_them(
    store, home, mul_spec, calc_repo, server
):
    (home / "prompts").mkdir(parents=True)
    (home / "prompts" / "system.j2").write_text("HOME SYSTEM PROMPT ({{ protocol }})")
    write_files(
        calc_repo,
        {
            ".overnight/prompts/task.j2": TEAM_TASK,
            "AGENTS.md": "Name tests after behaviour.",
            ".cursorrules": "Prefer small functions.",
        },
    )
    commit_all(calc_repo, "team prompts and standards")
    # the agent rewrites its own prompts and standards: the next attempt's come from the base
    rewrite = "echo 'AGENT WROTE THIS' | tee .overnight/prompts/task.j2 AGENTS.md"
    server.add(bash(rewrite), bash("submit"), bash(WRITE_MUL), bash("submit"))
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}", "budget: {attempts: 2}\n"))

    drain(store)

    system, task = server.requests[0].body["messages"][:2]
    assert system["content"] == "HOME SYSTEM PROMPT (text)"
    assert task["content"].startswith("TEAM TASK PROMPT\n# Add mul to calc")
    assert "[AGENTS.md] Name tests after behaviour." in task["content"]
    assert "[.cursorrules] Prefer small functions." in task["content"]
    second = next(r for r in server.requests[1:] if r.body["messages"][0]["role"] == "system")
    assert second.body["messages"][1]["content"].startswith("TEAM TASK PROMPT")
    assert "AGENT WROTE THIS" not in second.body["messages"][1]["content"]
    run = detail(store, task_id)["runs"][0]
    assert run["standards"] == ["AGENTS.md", ".cursorrules"]
    templates = run["prompts"]["templates"]
    assert templates["task"]["source"] == "repo"
    assert templates["task"]["hash"] == hashlib.sha256(TEAM_TASK.encode()).hexdigest()[:12]
    assert templates["system"]["source"] == "home"
    assert templates["stuck"] == {
        "hash": templates["stuck"]["hash"],
        "source": "built-in",
        "path": "v1/stuck.j2",
    }
    label = run["prompts"]["label"]
    assert label.startswith("v1+repo+home@")
    assert {t["prompts"] for t in run["transcript"]} == {label}

    code, out = cli("show", str(task_id))
    assert code == 0
    assert f"prompts {label} (system home {templates['system']['hash']}, task repo " in out
    assert "standards: AGENTS.md, .cursorrules" in out
    with store.reading() as session:
        insights = report(session, datetime.now(UTC).replace(tzinfo=None))
    by_prompts = dict(insights["by_prompts"])
    assert by_prompts[label]["tasks"] == 1
    assert by_prompts[label]["statuses"]["ready"] == 1


def test_a_command_agent_gets_the_standards_paths_and_no_prompts(
    store, mul_spec, calc_repo, tmp_path
):
    write_files(
        calc_repo, {"CONVENTIONS.md": "conventions", ".github/copilot-instructions.md": "c"}
    )
    commit_all(calc_repo, "standards")
    seen = tmp_path / "seen.txt"
    task_id = submit(store, mul_spec(f'command:printf %s "$OVERNIGHT_STANDARDS" > {seen}'))

    drain(store)

    assert seen.read_text() == "CONVENTIONS.md\n.github/copilot-instructions.md"
    run = detail(store, task_id)["runs"][0]
    assert run["prompts"] is None
    assert run["standards"] == ["CONVENTIONS.md", ".github/copilot-instructions.md"]
    code, out = cli("prompts", "render", "task", "--task", str(task_id))
    assert code == 2
    assert "gives it no prompts" in out


def test_standards_none_gives_the_agent_none(store, mul_spec, calc_repo, tmp_path):
    write_files(
        calc_repo, {"AGENTS.md": "agents", "overnight.toml": OVERNIGHT_TOML + "standards = []\n"}
    )
    commit_all(calc_repo, "no standards")
    seen = tmp_path / "seen.txt"
    task_id = submit(store, mul_spec(f'command:printf "[%s]" "$OVERNIGHT_STANDARDS" > {seen}'))

    drain(store)

    assert seen.read_text() == "[]"
    assert detail(store, task_id)["runs"][0]["standards"] == []


def test_prompts_list_show_and_diff(home, tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r", {".overnight/prompts/task.j2": "repo task\n", "src/a.py": ""})
    monkeypatch.chdir(repo / "src")  # anywhere in the repository
    other = tmp_path / "task-v2.j2"
    other.write_text("repo task\nand more\n")

    code, out = cli("prompts", "list", "--json")
    assert code == 0
    listed = {t["name"]: t for t in json.loads(out)["templates"]}
    assert listed["task"]["source"] == "repo"
    assert listed["system"]["source"] == "built-in"
    code, out = cli("prompts", "list", "--all")
    assert "built-in (overridden)" in out

    code, out = cli("prompts", "show", "task")
    assert code == 0
    assert out.startswith("repo task\n# repo:task · .overnight/prompts/task.j2 · ")
    code, out = cli("prompts", "show", "built-in:task")
    assert "# Task" in out

    code, out = cli("prompts", "diff", "repo:task", str(other))
    assert code == 1
    assert "--- repo:task (.overnight/prompts/task.j2, " in out
    assert "+and more" in out
    assert cli("prompts", "diff", "task", "repo:task") == (0, "")
    code, out = cli("prompts", "list", "--base", "no-such-branch")
    assert code == 2
    assert "no commit 'no-such-branch'" in out
    code, out = cli("prompts", "show", "nowhere:task")
    assert code == 2
    assert "neither a template" in out


def test_prompts_render_gives_the_task_prompt_its_agent_would_get(store, home, mul_spec, calc_repo):
    write_files(
        calc_repo, {"AGENTS.md": "Be brief.", ".overnight/prompts/stuck.j2": "STUCK {{ count }}"}
    )
    commit_all(calc_repo, "standards")
    task_id = submit(store, mul_spec("builtin:openai:gpt-4.1"))

    code, out = cli("prompts", "render", "task", "--task", str(task_id))
    assert code == 0, out
    assert "# Add mul to calc" in out
    assert "# Conventions of this repository (AGENTS.md)\nBe brief." in out
    assert "calc.py" in out.split("# Files in the repository")[1]
    assert "test_mul" not in out  # the hidden acceptance test stays hidden
    code, out = cli("prompts", "render", "stuck", "--task", str(task_id))
    assert (code, out) == (0, "STUCK 3\n")


def test_a_repository_template_that_does_not_parse_queues_nothing(store, mul_spec, calc_repo):
    write_files(calc_repo, {".overnight/prompts/task.j2": "{{ spec }}\n{% if attempt %}\n"})
    commit_all(calc_repo, "broken prompt")
    spec = mul_spec("builtin:openai:gpt-4.1")

    with pytest.raises(ConfigError, match=r"\.overnight/prompts/task\.j2:2: .*fix the template"):
        submit(store, spec)
    with store.reading() as session:
        assert session.scalars(select(Task)).all() == []


def test_a_template_reading_what_it_is_not_given_fails_the_run_naming_it(
    store, mul_spec, calc_repo, server
):
    write_files(calc_repo, {".overnight/prompts/task.j2": "{{ spec }} {{ ticket }}"})
    commit_all(calc_repo, "a prompt that needs a value overnight does not give")
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "failed"
    assert (
        "prompt task (repo: .overnight/prompts/task.j2) does not render" in task["failure_reason"]
    )
    assert "'ticket' is undefined" in task["failure_reason"]
    assert server.requests == []


def test_a_home_template_that_does_not_parse_fails_the_run_naming_it(store, home, mul_spec, server):
    (home / "prompts").mkdir(parents=True)
    (home / "prompts" / "system.j2").write_text("You are\n{% for %}")
    task_id = submit(store, mul_spec(f"builtin:{server.model_name}"))

    drain(store)

    task = detail(store, task_id)
    assert task["status"] == "failed"
    assert f"{home}/prompts/system.j2:2: " in task["failure_reason"]
    assert server.requests == []


def test_a_team_rewrites_how_feedback_is_put_without_copying_the_task_prompt():
    from overnight.agents.prompts import Prompts

    own = {".overnight/prompts/feedback.j2": "FIX THIS FIRST: {{ feedback }}\n"}
    values = dict(spec="S", feedback="tests failed", conventions=[], files="a.py", named=[])

    retry = Prompts(library=PromptLibrary(repo=own)).render("task", attempt=2, **values)
    built_in = Prompts().render("task", attempt=2, **values)

    assert retry.startswith("FIX THIS FIRST: tests failed\n# Task\nS")
    assert built_in.startswith("This is attempt 2 at the task below.")
    assert built_in.split("# Task")[1] == retry.split("# Task")[1]
