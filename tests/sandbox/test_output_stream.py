"""A sandboxed command's output reaches ``on_output`` while the command still runs
(what the agent's live log is made of), in bwrap and unisolated alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from overnight.sandbox import Completed, Sandbox
from overnight.sandbox.none import NoSandbox

WAIT = "echo 'first é'; until [ -e go ]; do sleep 0.05; done; echo last"


@pytest.mark.parametrize("kind", ["bwrap", "none"])
def test_output_arrives_before_the_command_ends(kind, make_sandbox, workspace: Path, environ):
    sandbox: Sandbox = make_sandbox() if kind == "bwrap" else NoSandbox()
    pieces: list[str] = []
    first = threading.Event()
    done: list[Completed] = []

    def on_output(text: str) -> None:
        pieces.append(text)
        if "first" in "".join(pieces):
            first.set()

    def run() -> None:
        done.append(sandbox.run(WAIT, cwd=workspace, env=environ, timeout=60, on_output=on_output))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert first.wait(30), f"no output while the command ran: {pieces}"
        assert thread.is_alive() and not done  # it still waits for go
    finally:
        (workspace / "go").touch()
        thread.join(60)

    assert done[0].ok, done[0].output
    assert "".join(pieces) == "first é\nlast\n" == done[0].output
