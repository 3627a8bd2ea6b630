"""Concurrency: 40 tasks on 20 slots of one worker, on 2 cores.

Each task's agent is the built-in loop talking to the scripted model server,
which answers every turn after 1 s; a task takes 5 turns. Two ideals are printed:

- latency-only: 2 waves x 5 turns x 1 s = 10 s, as if commands took no time;
- CPU-aware: the raw work a task needs without overnight (clone the repository,
  run the agent's commands and the acceptance command, commit), measured here
  serially first, counted twice: on each task's critical path (a task's commands
  run between its model turns) and as CPU shared by the cores
  (``max(waves x (turns x latency + raw wall), tasks x raw CPU / cores)``).

overnight's overhead (sandboxes, baseline, gates, store writes, checkpoints, 20
threads) is what the ratios measure. Also printed: where the CPU went (overnight's
own process against its child processes, per task) and the worker's memory per
active slot (peak RSS growth / slots). ``--profile`` adds the functions of
overnight that used the most CPU across all the worker's threads (yappi).

Run: .venv/bin/python benchmarks/concurrency.py [--tasks 40 --slots 20 --turns 5] [--profile]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import tempfile
import threading
import time
from collections import Counter
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


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def raw_task(repo: Path, work: Path, turns: int) -> tuple[float, float]:
    """(wall, CPU) seconds of what one task needs without overnight: a clone, the
    agent's commands, the acceptance command, a commit; run serially, 5 times."""
    rounds = 5
    start, cpu = time.monotonic(), cpu_seconds(resource.RUSAGE_CHILDREN)
    for n in range(rounds):
        clone = work / f"raw-{n}"
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        for turn in range(1, turns):
            subprocess.run(["bash", "-c", f"echo turn {turn} >> notes.txt"], cwd=clone, check=True)
        subprocess.run(["bash", "-c", "true"], cwd=clone, check=True)
        subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "work"],
            cwd=clone,
            check=True,
        )
    wall = (time.monotonic() - start) / rounds
    return wall, (cpu_seconds(resource.RUSAGE_CHILDREN) - cpu) / rounds


def print_profile(stats: object, tasks: int, top: int = 12) -> None:
    """Where the CPU went, summed over every thread: the functions with the most CPU of
    their own (any module), and overnight's with the most including their callees."""
    rows = list(stats)  # type: ignore[call-overload]

    def show(title: str, chosen: list, key: str) -> None:
        print(title)
        for s in chosen[:top]:
            where = s.module.split("/overnight/", 1)[-1].split("/lib/python3")[-1]
            print(f"  {getattr(s, key) * 1000 / tasks:7.1f} ms  {where}:{s.lineno}:{s.name}")

    show("CPU per task, own time (any module):", sorted(rows, key=lambda s: -s.tsub), "tsub")
    ours = [s for s in rows if "/src/overnight/" in s.module and "/testing/" not in s.module]
    show("CPU per task, with callees (overnight's):", sorted(ours, key=lambda s: -s.ttot), "ttot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--profile", action="store_true", help="CPU per function (yappi)")
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
        raw_wall, raw_cpu = raw_task(repo, home, args.turns)
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
        if args.profile:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start()
        own, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        worker.run(drain=True)
        makespan = time.monotonic() - start
        own = cpu_seconds(resource.RUSAGE_SELF) - own
        children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
        if args.profile:
            yappi.stop()
            print_profile(yappi.get_func_stats(), args.tasks)
        from sqlalchemy import select

        from overnight.store import Step, Task
        from overnight.task_list import task_summary

        with store.session() as session:
            summaries = [task_summary(t) for t in session.scalars(select(Task))]
            statuses = [s["status"] for s in summaries]
            reasons = Counter(
                f"{s['failure_reason']} {s['failing_gates']}"
                for s in summaries
                if s["status"] != "ready"
            )
            steps: dict[str, list[float]] = {}
            for step in session.scalars(select(Step)):
                if step.finished_at is not None:
                    seconds = (step.finished_at - step.started_at).total_seconds()
                    steps.setdefault(step.name, []).append(seconds)
    waves = math.ceil(args.tasks / args.slots)
    ideal = waves * args.turns * args.latency
    cores = os.cpu_count() or 1
    cpu_ideal = max(waves * (args.turns * args.latency + raw_wall), args.tasks * raw_cpu / cores)
    ready = statuses.count("ready")
    print(
        f"tasks {args.tasks}, slots {args.slots}, {args.turns} turns of {args.latency:g} s: "
        f"{ready} READY, model requests {len(server.requests)}"
    )
    for reason, count in reasons.most_common(3):
        print(f"  not READY ({count}): {reason}")
    print(
        f"makespan {makespan:.1f} s; ideal {ideal:.1f} s latency-only, {cpu_ideal:.1f} s "
        f"CPU-aware (raw work per task: {raw_wall * 1000:.0f} ms wall, "
        f"{raw_cpu * 1000:.0f} ms CPU; {cores} cores)"
    )
    print(
        f"CPU per task: overnight's process {own * 1000 / args.tasks:.0f} ms, its child "
        f"processes {children * 1000 / args.tasks:.0f} ms, the raw work {raw_cpu * 1000:.0f} ms"
    )
    print("mean step: " + ", ".join(f"{name} {sum(v) / len(v):.2f} s" for name, v in steps.items()))
    print(
        f"worker memory per active slot: {(peak[0] - idle) / args.slots:.1f} MB "
        f"(idle {idle:.0f} MB, peak {peak[0]:.0f} MB)"
    )
    print(f"ratio makespan/ideal, latency-only: {makespan / ideal:.2f}")
    print(f"ratio makespan/ideal, CPU-aware: {makespan / cpu_ideal:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
