"""An evaluation configuration's ``prompts``: a built-in set or a directory of
templates over it, checked when the file is read, captured as text, stored with
each task it queues and run by the built-in agent (the run records their hashes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inflection import FIXTURE, inflection_repo

from overnight.agents.library import PromptLibrary, PromptSet
from overnight.errors import UsageError
from overnight.eval_compare import load_configs, run_compare
from overnight.eval_config import load_config
from overnight.eval_report import html_report
from overnight.evaluation import read_instances, submit_instances
from overnight.spec import Spec
from overnight.store import Run, Store, Task
from overnight.testing.llm_server import ScriptedLLMServer, bash


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_prompts_name_a_built_in_set_or_a_directory_read_whole(tmp_path: Path):
    assert load_config(write(tmp_path / "v.toml", 'prompts = "v1"\n')).prompts == PromptSet("v1")
    task = write(tmp_path / "candidate" / "task.j2", "CANDIDATE {{ spec }}")
    config = load_config(write(tmp_path / "c.toml", 'prompts = "candidate"\n'))
    assert config.prompts == PromptSet("v1", {str(task): "CANDIDATE {{ spec }}"})
    assert config.describe()["prompts"].startswith("v1 + task.j2 (")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"tsak.j2": "x"},
            "has template(s) the built-in set does not: tsak.j2; known: draft, feedback",
        ),
        ({"task.j2": "{% if %}"}, "task.j2:1: Expected an expression"),
        ({"task.j2": "{{ no_such_value }}"}, "does not render: 'no_such_value' is undefined"),
        ({"task.j2": b"\xff\xfe"}, "cannot be read"),
        ({"notes.md": "not a template"}, "has no NAME.j2 template"),
    ],
)
def test_a_prompts_directory_that_cannot_run_fails_when_the_file_is_read(
    tmp_path: Path, files: dict[str, str | bytes], message: str
):
    for name, text in files.items():
        path = tmp_path / "p" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    config = write(tmp_path / "bad.toml", 'prompts = "p"\n')
    with pytest.raises(UsageError) as raised:
        load_config(config)
    assert str(raised.value).startswith(f"{config}: ")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_an_unknown_set_or_unreadable_directory_fails_in_one_line(tmp_path: Path):
    with pytest.raises(UsageError, match=r"unknown prompt set 'v9': known: v1, or a directory"):
        load_config(write(tmp_path / "a.toml", 'prompts = "v9"\n'))
    write(tmp_path / "notes.txt", "a file, not a directory")
    with pytest.raises(UsageError, match=r"notes.txt cannot be read \(Not a directory\)"):
        load_config(write(tmp_path / "b.toml", 'prompts = "notes.txt"\n'))
    with pytest.raises(UsageError, match="'prompts' is for the built-in agent only"):
        load_config(write(tmp_path / "c.toml", 'agent = "command:true"\nprompts = "v1"\n'))


def test_a_configuration_s_templates_win_over_the_repository_s_and_the_home_s(tmp_path: Path):
    home = tmp_path / "home"
    write(home / "system.j2", "HOME SYSTEM")
    library = PromptLibrary(
        chosen={"/c/task.j2": "EVAL TASK"},
        repo={".overnight/prompts/task.j2": "REPO TASK", ".overnight/prompts/stuck.j2": "R"},
        home_dir=home,
    )
    assert [library.get(n).source for n in ("task", "stuck", "system", "observation")] == [
        "eval",
        "repo",
        "home",
        "built-in",
    ]
    assert library.get("task").text == "EVAL TASK"
    assert library.label.startswith("v1+eval+repo+home@")


def test_prompts_for_an_agent_that_renders_none_are_refused_at_submit(store: Store, suite: Path):
    with pytest.raises(UsageError, match="prompts are for the built-in agent: 'command:true'"):
        submit_instances(
            store, suite, read_instances(suite), agent="command:true", prompts=PromptSet("v1")
        )
    with store.session() as session:
        assert session.query(Task).count() == 0


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """The inflection fixture's instance, in a repository of its base."""
    repo, base = inflection_repo(tmp_path / "inflection")
    item = json.loads((FIXTURE / "instance.json").read_text())
    item.update(repo=str(repo), base_commit=base)
    return write(tmp_path / "suite.jsonl", json.dumps(item) + "\n")


def asked(server: ScriptedLLMServer) -> list[str]:
    """The text of every user message the model server was sent."""
    return [
        str(m["content"])
        for r in server.requests
        for m in r.body.get("messages", [])
        if m.get("role") == "user"
    ]


@pytest.mark.slow
def test_two_configurations_run_their_own_task_template_and_record_its_hash(
    store: Store, suite: Path, tmp_path: Path
):
    with ScriptedLLMServer([lambda body: bash("submit", "Done.")] * 12) as server:
        for name in ("current", "candidate"):
            write(tmp_path / name / "task.j2", f"PROMPT OF {name.upper()}\n{{{{ spec }}}}\n")
            write(
                tmp_path / f"{name}.toml",
                f'model = "{server.model_name}"\nprompts = "{name}"\n'
                "[budget]\nattempts = 1\nminutes = 5\n",
            )
        configs = load_configs([tmp_path / "current.toml", tmp_path / "candidate.toml"])
        # captured when read: a later edit of the directory reaches no task
        (tmp_path / "candidate" / "task.j2").write_text("EDITED AFTER LOADING {{ spec }}")
        result = run_compare(store, suite, configs)
        sent = asked(server)

    assert [c["runs"] for c in result["configs"]] == [1, 1]
    assert [c["prompts"].split(" (")[0] for c in result["configs"]] == ["v1 + task.j2"] * 2
    assert "prompts v1 + task.j2 (" in html_report(result)
    current = [t for t in sent if "PROMPT OF CURRENT" in t]
    candidate = [t for t in sent if "PROMPT OF CANDIDATE" in t]
    assert current and candidate and not any("EDITED" in t for t in sent)
    assert not [t for t in current if "CANDIDATE" in t]
    assert "inflection" in current[0].lower()  # the template was rendered with the spec
    with store.session() as session:
        tasks = sorted(session.query(Task).all(), key=lambda t: t.id)
        stored = [Spec.from_dict(t.spec).prompts for t in tasks]
        runs = [session.query(Run).filter_by(task_id=t.id).one().prompts for t in tasks]
    # the task carries the text, so a restarted worker runs the same prompts
    assert [next(iter(p.templates.values())).split("\n")[0] for p in stored if p] == [
        "PROMPT OF CURRENT",
        "PROMPT OF CANDIDATE",
    ]
    hashes = [r["templates"]["task"]["hash"] for r in runs]
    assert hashes[0] != hashes[1]
    assert {r["templates"]["task"]["source"] for r in runs} == {"eval"}
    assert runs[0]["templates"]["system"] == runs[1]["templates"]["system"]  # the built-in one
    assert all(r["label"].startswith("v1+eval@") for r in runs)
