"""Keys passed on purpose are masked in everything a run writes, and a change that
holds one is never delivered.

Keys are made at run time (random, key-shaped): no key-shaped literal sits in
this file.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from conftest import drain

from overnight.gates.settings import config_from_dict
from overnight.intake import submit_text
from overnight.masking import Mask, key_variables
from overnight.store import Artifact, Event, GateResult, Run, Store, Task
from overnight.store import Turn as TurnRow
from overnight.testing import make_repo
from overnight.views import logs, task_detail
from overnight.web import WebConfig, create_app
from overnight.web.server import background

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
VARIABLE = "OVERNIGHT_TEST_SERVICE_KEY"
MASKED = f"[redacted ${VARIABLE}]"
OVERNIGHT = str(Path(sys.executable).parent / "overnight")


def make_key(prefix: str = "sk-", length: int = 21, seed: int = 11, alphabet: str = ALNUM) -> str:
    """A short-form key (24 characters with ``sk-``), different at every seed."""
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


# -- the mask ------------------------------------------------------------------


def test_the_mask_replaces_a_passed_value_naming_its_variable():
    key = make_key()
    mask = Mask.of({"agent_env": [VARIABLE]}, {VARIABLE: key})
    assert (
        mask.text(f"export {VARIABLE}={key}; echo done") == f"export {VARIABLE}={MASKED}; echo done"
    )


def test_the_mask_covers_the_value_percent_encoded_in_a_url():
    key = make_key(prefix="", length=28) + "/+=="  # base64-like, changed by percent-encoding
    mask = Mask.of({"agent_env": [VARIABLE]}, {VARIABLE: key})
    assert mask.text(f"GET https://api.test/v1?key={quote(key, safe='')} 200") == (
        f"GET https://api.test/v1?key={MASKED} 200"
    )
    assert mask.text(f"key={quote_plus(key, safe='')}") == f"key={MASKED}"


def test_values_shorter_than_eight_characters_are_left_alone():
    mask = Mask.of({"agent_env": ["SHORT", VARIABLE]}, {"SHORT": "the", VARIABLE: "abc1234"})
    assert not mask
    assert mask.text("the abc1234") == "the abc1234"


def test_the_mask_walks_json_values_keys_included():
    key = make_key()
    mask = Mask.of({"agent_env": [VARIABLE]}, {VARIABLE: key})
    data = {"messages": [{"content": f"key {key}"}], key: 1, "n": 2, "none": None}
    assert mask.data(data) == {
        "messages": [{"content": f"key {MASKED}"}],
        MASKED: 1,
        "n": 2,
        "none": None,
    }


def test_the_keys_are_agent_env_the_model_key_and_the_reviewers_key():
    config = config_from_dict({"agent_env": ["A_KEY"], "model_key_env": "MODEL_KEY"})
    assert key_variables(config) == ["A_KEY", "MODEL_KEY"]
    assert key_variables({"agent_env": ["A_KEY"]}) == [
        "A_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    ]
    review = {"model_key_env": "M", "gates": {"review": {"key_env": "REVIEW_KEY"}}}
    assert key_variables(review) == ["M", "REVIEW_KEY"]


# -- the storage boundary --------------------------------------------------------


def a_task(store: Store) -> tuple[int, int]:
    with store.session() as session:
        task = Task(
            title="t",
            slug="t",
            spec={},
            spec_text="",
            config={"agent_env": [VARIABLE]},
            repo="r",
            base_ref="main",
            base_sha="0" * 40,
            branch="b",
            agent="command:true",
        )
        session.add(task)
        session.flush()
        run = Run(task_id=task.id, number=1, base_sha="0" * 40)
        session.add(run)
        session.flush()
        return task.id, run.id


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_every_row_a_run_writes_is_masked_before_it_reaches_the_database(
    store, database, monkeypatch, home
):
    key = make_key()
    monkeypatch.setenv(VARIABLE, key)
    task_id, run_id = a_task(store)
    with store.session() as session:
        store.artifact(session, task_id, "step-agent-1.log", f"printed {key}", run_id)
        store.event(session, task_id, "failed", f"error: {key}", run_id)
        session.add(
            GateResult(
                run_id=run_id,
                attempt=1,
                name="g",
                verdict="fail",
                summary=key,
                feedback=key,
                command=f"curl -H {key}",
            )
        )
        session.add(
            TurnRow(
                run_id=run_id,
                attempt=1,
                number=1,
                model="m",
                content=key,
                request={"h": key},
                response={"r": [key]},
            )
        )
        session.get(Task, task_id).failure_reason = f"setup: {key}"  # type: ignore[union-attr]
    with store.session() as session:
        texts = [a.content for a in session.query(Artifact)] + [
            e.message for e in session.query(Event)
        ]
        gate = session.query(GateResult).one()
        turn = session.query(TurnRow).one()
        task = session.get(Task, task_id)
        assert task is not None
        texts += [
            gate.summary,
            gate.feedback or "",
            gate.command or "",
            turn.content,
            json.dumps(turn.request),
            json.dumps(turn.response),
            task.failure_reason or "",
        ]
    assert all(MASKED in t and key not in t for t in texts), texts
    if database == "sqlite":
        store.engine.dispose()
        assert key.encode() not in database_bytes(home)


def test_the_views_mask_rows_written_before_masking_existed(store, monkeypatch):
    key = make_key()
    task_id, run_id = a_task(store)
    with store.session() as session:  # written by a process that did not know the key
        store.artifact(session, task_id, "crash.log", f"boom {key}", run_id)
    monkeypatch.setenv(VARIABLE, key)
    with store.session() as session:
        task = store.task(session, task_id)
        shown = logs(session, task) + [("detail", json.dumps(task_detail(session, task)))]
    assert ("run 1 · crash.log", f"boom {MASKED}") in shown
    assert all(key not in text for _, text in shown)


def database_bytes(home: Path) -> bytes:
    """The SQLite database as it is on disk, with its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("overnight.db*")))


# -- end to end ---------------------------------------------------------------------

LEAKY_AGENT = f"""set -e
echo "using the key ${VARIABLE}"
echo "calling https://api.test/v1?key=${VARIABLE}" >&2
printf 'service:\\n  token: "%s"\\n' "${VARIABLE}" > notes.txt
touch "cache-${VARIABLE}.txt"
git add --all
git -c user.name=agent -c user.email=agent@localhost commit -qm "use the key ${VARIABLE}"
git log -1 --format=%B
"""


@pytest.mark.slow
def test_a_key_the_agent_leaks_reaches_no_output_and_fails_the_security_gate(
    store, tmp_path, monkeypatch, home
):
    key = make_key()
    monkeypatch.setenv(VARIABLE, key)
    repo = make_repo(
        tmp_path / "svc",
        {
            "tests/test_ok.py": "def test_ok():\n    pass\n",
            "overnight.toml": 'environment = "inherit"\ntest_cmd = "python -m pytest -q"\n'
            'env = {PYTEST_DISABLE_PLUGIN_AUTOLOAD = "1"}\n'
            f'agent_env = ["{VARIABLE}"]\n[gates.security]\naudit = false\n',
        },
    )
    agent = tmp_path / "agent.sh"
    agent.write_text(LEAKY_AGENT)
    spec = (
        f"---\ntitle: Write the service notes\nrepo: {repo}\nacceptance:\n"
        f"  - run: test -s notes.txt\nagent: 'command:sh {agent}'\n"
        "budget: {attempts: 1}\n---\nWrite notes.txt.\n"
    )
    task_id = submit_text(store, spec, source="task.md", base_dir=tmp_path).task.id
    drain(store)

    with store.session() as session:
        task = task_detail(session, store.task(session, task_id))
    assert task["status"] == "failed"
    assert task["failing_gates"] == ["security"], task["failure_reason"]
    with store.session() as session:
        security = session.query(GateResult).filter_by(name="security").one()
        found = f"{security.summary}\n{security.feedback}"
    assert f"secrets: notes.txt:2: the value of ${VARIABLE}, a key passed on purpose" in found
    assert f"secrets: cache-{MASKED}.txt: its name holds the value of ${VARIABLE}" in found

    reader = {k: v for k, v in os.environ.items() if k != VARIABLE}  # no read-side help
    outputs = {
        args: overnight(*args, env=reader)
        for args in [
            ("logs", str(task_id)),
            ("show", str(task_id)),
            ("show", str(task_id), "--transcript"),
            ("show", str(task_id), "--json", "--transcript"),
        ]
    }
    assert MASKED in outputs[("logs", str(task_id))]  # the agent's output, masked
    assert f'+  token: "{MASKED}"' in outputs[("show", str(task_id))]  # the diff, masked
    with serve(store, tmp_path) as client:
        api = {
            path: client.get(path).text
            for path in (
                f"/api/tasks/{task_id}",
                f"/api/tasks/{task_id}/logs",
                f"/api/tasks/{task_id}/events",
            )
        }
    assert MASKED in json.loads(api[f"/api/tasks/{task_id}"])["diff"]
    for where, text in [*outputs.items(), *api.items()]:
        assert key not in text, where
    store.engine.dispose()
    assert key.encode() not in database_bytes(home)


def overnight(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run([OVERNIGHT, *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


@contextmanager
def serve(store: Store, base_dir: Path) -> Iterator[httpx.Client]:
    """The dashboard's app on loopback, over this test's store, with an HTTP client."""
    app = create_app(store, WebConfig(poll=0.05, base_dir=base_dir))
    with background(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client
