"""The built-in agent: what the loop costs per turn, and what the embedded model spends.

1. Loop overhead (``--turns N``, default 50): the loop runs N turns against the
   scripted model server (``overnight.testing.llm_server``) with a trivial
   command each turn (``true``), every turn recorded in a real SQLite store
   through the Recorder, as in a worker. Per turn it reports the wall time,
   the model's share (the HTTP round trip to the scripted server), the
   command's share (the sandbox), and the rest: the loop itself (prompt
   rendering, parsing, redaction, recording), which is the number to keep low.

2. The embedded model on the demo's three specs (``--model``, default
   ``local:qwen2.5-coder-1.5b``; ``--skip-model`` to leave it out): the whole
   pipeline per spec, then from the store: turns, tokens per turn (in and
   out), generation speed, time and outcome of each task.

    .venv/bin/python benchmarks/agent.py [--turns 50] [--model NAME | --skip-model]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Timed:
    """Wraps a model or a sandbox and adds up the seconds spent in it."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method, self.seconds = inner, method, 0.0
        self.name = getattr(inner, "name", "timed")
        self.secrets = getattr(inner, "secrets", ())

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self.inner, self.method)(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)


def loop_overhead(turns: int) -> None:
    from overnight import queue
    from overnight.agents import AgentContext
    from overnight.agents.loop import BuiltinAgent
    from overnight.agents.settings import AgentConfig
    from overnight.intake import submit_text
    from overnight.llm import get_model
    from overnight.pipeline.recorder import Recorder
    from overnight.sandbox.none import NoSandbox
    from overnight.store import open_store
    from overnight.testing import make_repo
    from overnight.testing.llm_server import ScriptedLLMServer, bash

    tmp = Path(tempfile.mkdtemp(prefix="overnight-bench-agent-"))
    os.environ["OVERNIGHT_HOME"] = str(tmp / "home")
    repo = make_repo(tmp / "repo", {"calc.py": "def add(a, b):\n    return a + b\n"})
    spec = tmp / "spec.md"
    spec.write_text(
        f"---\ntitle: Bench\nrepo: {repo}\nacceptance:\n  - run: 'true'\n"
        "agent: 'command:true'\n---\nNothing to do.\n"
    )
    store = open_store()
    submit_text(store, spec.read_text(), source="spec.md", base_dir=tmp)
    claim = queue.claim(store, "bench", 600)
    assert claim is not None
    recorder = Recorder(store, claim)
    import logging

    logging.getLogger("overnight.sandbox.none").setLevel(logging.ERROR)
    with ScriptedLLMServer([bash("true")] * turns + [bash("submit")]) as server:
        model = Timed(get_model(server.model_name), "query")
        sandbox = Timed(NoSandbox(), "run")
        spec_file = tmp / "agent-spec.md"
        spec_file.write_text("# Bench\n\nNothing to do.\n")
        config = AgentConfig(model=server.model_name, max_turns=turns + 1, repeat_limit=turns + 10)
        ctx = AgentContext(
            task_id=claim.task_id,
            run_number=1,
            attempt=1,
            workspace=repo,
            spec_file=spec_file,
            feedback="",
            sandbox=sandbox,
            environ={"PATH": "/usr/bin:/bin"},
            timeout=600,
            cancel=threading.Event(),
            on_turn=recorder.turn,
        )
        start = time.perf_counter()
        result = BuiltinAgent(config, model=model).run(ctx)  # type: ignore[arg-type]
        wall = time.perf_counter() - start
    n = turns + 1
    rest = wall - model.seconds - sandbox.seconds
    print(f"loop overhead ({result.summary.split(' · ')[0]}; SQLite store; sandbox 'none')")
    print(
        f"  per turn: {wall / n * 1000:.1f} ms wall = model round trip "
        f"{model.seconds / n * 1000:.1f} ms (scripted server) + command "
        f"{sandbox.seconds / n * 1000:.1f} ms (`true`) + loop and recording "
        f"{rest / n * 1000:.1f} ms"
    )
    print(
        f"loop overhead per turn outside the model: {(wall - model.seconds) / n * 1000:.1f} ms "
        f"(of which the loop itself: {rest / n * 1000:.1f} ms)"
    )


def model_on_demo(model: str) -> None:
    from overnight import demo
    from overnight.store import Run, Task, Turn, open_store

    tmp = Path(tempfile.mkdtemp(prefix="overnight-bench-model-"))
    os.environ["OVERNIGHT_HOME"] = str(tmp / "home")
    store = open_store()
    made = demo.create(tmp / "demo")
    if model.startswith("local:"):
        from overnight.llm import local

        local.server(model.partition(":")[2])
    demo.submit(store, made, model)
    start = time.monotonic()
    worker = demo.start_worker(store, 1)
    worker.join()
    print(f"\n{model} on the demo's three specs: {time.monotonic() - start:.0f} s in all")
    rows = []
    with store.session() as session:
        for item in made.tasks:
            task = session.get(Task, item.id)
            assert task is not None
            run = task.runs[-1]
            turns: list[Turn] = list(run.turns)
            run_row: Run = run
            took = (
                (run_row.finished_at - run_row.started_at).total_seconds()
                if run_row.finished_at and run_row.started_at
                else 0.0
            )
            rows.append((task.title, task.status, run.attempts, turns, took))
    print(
        f"{'task':<42} {'end':<7} {'att':>3} {'turns':>5} {'in/turn':>8} {'out/turn':>8} "
        f"{'out tok/s':>9} {'time':>6}"
    )
    every: list[Turn] = []
    for title, status, attempts, turns, took in rows:
        every += turns
        print(
            f"{title[:42]:<42} {status:<7} {attempts:>3} {len(turns):>5} "
            f"{_mean([t.input_tokens for t in turns]):>8.0f} "
            f"{_mean([t.output_tokens for t in turns]):>8.0f} {_speed(turns):>9.1f} "
            f"{took:>5.0f}s"
        )
    if every:
        print(
            f"tokens per turn on the demo specs: {_mean([t.input_tokens for t in every]):.0f} "
            f"in (the whole prompt), {_mean([t.output_tokens for t in every]):.0f} out; "
            f"{_speed(every):.1f} output tokens/s incl. prompt processing; "
            f"median latency {statistics.median(t.latency for t in every):.1f} s"
        )


def _mean(values: list[int]) -> float:
    return statistics.mean(values) if values else 0.0


def _speed(turns: list[Any]) -> float:
    seconds = sum(t.latency for t in turns)
    return sum(t.output_tokens for t in turns) / seconds if seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    loop_overhead(args.turns)
    if not args.skip_model:
        model_on_demo(args.model)


if __name__ == "__main__":
    main()
