"""Concurrency: 40 tasks on 20 slots of one worker, on 2 cores.

Each task's agent is the built-in loop talking to the scripted model server,
which answers every turn after 1 s; a task takes 5 turns. The ideal makespan
is 2 waves x 5 turns x 1 s = 10 s; overnight's overhead (clones, baseline,
gates, store writes, 20 threads) is what the ratio measures. Also printed:
the worker's memory per active slot (peak RSS growth / slots).

Run: .venv/bin/python benchmarks/concurrency.py [--tasks 40 --slots 20 --turns 5]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import threading
import time
from pathlib import Path

from overnight.gates.registry import GATE_NAMES
from overnight.intake import submit_text
from overnight.store import open_store
from overnight.testing import make_repo
from overnight.testing.llm_server import Delay, ScriptedLLMServer, bash
from overnight.worker import Worker

KEEP = {"scope", "test-integrity", "acceptance-commands", "tests"}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()

    def answer(body: dict) -> Delay:
        done = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        # each turn changes a file, so the final submit is not sent back as "no change"
        step = (
            bash("submit") if done + 1 >= args.turns else bash(f"echo turn {done + 1} >> notes.txt")
        )
        return Delay(args.latency, step)

    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedLLMServer([answer] * (args.tasks * args.turns * 2)) as server,
    ):
        home = Path(tmp)
        os.environ["OVERNIGHT_HOME"] = str(home / "home")
        os.environ.pop("OVERNIGHT_DATABASE_URL", None)
        disabled = "".join(f"[gates.{g}]\nenabled = false\n" for g in GATE_NAMES if g not in KEEP)
        repo = make_repo(
            home / "repo",
            {
                "app.py": "VALUE = 1\n",
                "overnight.toml": f'environment = "inherit"\n{disabled}',
            },
        )
        store = open_store()
        spec = (
            f"---\ntitle: touch nothing\nrepo: {repo}\nregression: none\n"
            f"acceptance:\n  - run: 'true'\nagent: 'builtin:{server.model_name}'\n"
            "budget: {attempts: 1}\n---\nRun a few commands, then submit.\n"
        )
        for i in range(args.tasks):
            submit_text(store, spec, source=f"t{i}.md", base_dir=home)
        idle = rss_mb()
        peak = [idle]
        worker = Worker(store, slots=args.slots, poll=0.02)

        def sample() -> None:
            while not worker.finished.is_set():
                peak[0] = max(peak[0], rss_mb())
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        start = time.monotonic()
        worker.run(drain=True)
        makespan = time.monotonic() - start
        from sqlalchemy import select

        from overnight.store import Step, Task
        from overnight.task_list import task_summary

        with store.session() as session:
            statuses = [task_summary(t)["status"] for t in session.scalars(select(Task))]
            steps: dict[str, list[float]] = {}
            for step in session.scalars(select(Step)):
                if step.finished_at is not None:
                    seconds = (step.finished_at - step.started_at).total_seconds()
                    steps.setdefault(step.name, []).append(seconds)
    ideal = math.ceil(args.tasks / args.slots) * args.turns * args.latency
    ready = statuses.count("ready")
    print(
        f"tasks {args.tasks}, slots {args.slots}, {args.turns} turns of {args.latency:g} s: "
        f"{ready} READY, model requests {len(server.requests)}"
    )
    print(f"makespan {makespan:.1f} s, ideal {ideal:.1f} s")
    print("mean step: " + ", ".join(f"{name} {sum(v) / len(v):.2f} s" for name, v in steps.items()))
    print(
        f"worker memory per active slot: {(peak[0] - idle) / args.slots:.1f} MB "
        f"(idle {idle:.0f} MB, peak {peak[0]:.0f} MB)"
    )
    print(f"ratio makespan/ideal: {makespan / ideal:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
