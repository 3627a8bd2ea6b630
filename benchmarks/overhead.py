"""Overhead of overnight over running the same commands by hand.

What is measured: submit→READY wall time of one task on a real small project
(the vendored ``inflection``, ~455 tests, committed into a temporary git
repository), whose agent applies a one-line fix (``command:git apply``) so
that every gate has real work. The task has two hidden acceptance tests (the
instance's ``test_patch``) and the default regression set (the whole suite).

Against it, the script runs the raw commands a careful person would type for
the same change: clone, tests and ruff on the base (acceptance tests added),
apply the fix, tests and ruff on the candidate, commit, push the branch.

Both sides use the same virtualenv with pytest already installed: the
environment cache is warmed by one untimed task first, so neither side pays
for ``pip install``. The two sides alternate, N times each; the medians and
their ratio are printed, the ratio last. A breakdown of overnight's time by
pipeline step (from the store's Step and GateResult rows) shows where to cut.

Why: overnight is only worth queuing work to if its bookkeeping (store,
worker, workspace, evidence-gathering) costs little next to the work itself;
the goal is a ratio of at most 1.2.

    .venv/bin/python benchmarks/overhead.py [--runs N] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "swebench" / "inflection"
ACCEPTANCE = [
    "test_inflection.py::test_underscore[HTMLTidy-html_tidy]",
    "test_inflection.py::test_underscore[HTMLTidyGenerator-html_tidy_generator]",
]
OVERNIGHT_TOML = """setup = ["python -m pip install pytest"]
test_cmd = "python -m pytest -q"
lint_cmd = "ruff check"
environment = "venv"
"""
IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
RUFF = str(Path(sys.executable).parent / "ruff")


def cpu_seconds() -> float:
    """User+system CPU of this process and its finished children, so far."""
    usages = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def make_project(work: Path, sandbox: str | None = None) -> Path:
    """The inflection project with an overnight.toml, committed into a fresh repository."""
    repo = work / "inflection"
    shutil.copytree(FIXTURE / "repo", repo)
    extra = f'sandbox = "{sandbox}"\n' if sandbox else ""
    (repo / "overnight.toml").write_text(OVERNIGHT_TOML + extra)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", *IDENTITY, "commit", "-q", "-m", "inflection"], cwd=repo, check=True)
    return repo


def write_spec(work: Path, repo: Path) -> Path:
    shutil.copy(FIXTURE / "test.patch", work / "test.patch")
    shutil.copy(FIXTURE / "gold.patch", work / "fix.patch")
    tests = "".join(f'  - tests: "{node}"\n' for node in ACCEPTANCE)
    # the sandbox shows the agent only its workspace: the fix travels in the command itself
    fix = base64.b64encode((work / "fix.patch").read_bytes()).decode()
    spec = work / "acronym.md"
    spec.write_text(
        f"""---
title: Split a leading acronym in underscore()
repo: {repo}
acceptance:
{tests}  - test_patch: test.patch
    hidden: true
agent: 'command:echo {fix} | base64 -d | git apply'
---
`underscore("HTMLTidy")` should give `html_tidy`, not `htmltidy`.
"""
    )
    return spec


# -- overnight ---------------------------------------------------------------


def overnight_run(store, spec: Path) -> tuple[float, float, int, float]:
    """Submit the spec and drain the queue; return (seconds, CPU seconds, task id,
    submit seconds)."""
    from overnight.intake import submit_text
    from overnight.testing import run_until_idle

    cpu, start = cpu_seconds(), time.perf_counter()
    task = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task
    submitted = time.perf_counter() - start
    run_until_idle(store)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    with store.session() as session:
        done = store.task(session, task.id)
        if done.status != "ready":
            raise SystemExit(f"task {task.id} ended {done.status}: {done.failure_reason}")
    return elapsed, cpu, task.id, submitted


def step_times(store, task_id: int) -> dict[str, float]:
    """Seconds per pipeline step (and per gate, and between steps) of a task's run.

    A step without ``finished_at`` is taken to end when the next one starts.
    """
    from overnight.store import Run

    with store.session() as session:
        run = session.get(Run, store.task(session, task_id).runs[-1].id)
        times: dict[str, float] = defaultdict(float)
        steps = list(run.steps)
        previous = run.started_at
        for step, after in zip(steps, [*steps[1:], None], strict=True):
            end = step.finished_at or (after.started_at if after else run.finished_at)
            times[f"step {step.name}"] += _seconds(step.started_at, end)
            times["between steps (store writes)"] += _seconds(previous, step.started_at)
            previous = end
        times["after the last step (READY)"] = _seconds(previous, run.finished_at)
        for gate in run.gates:
            times[f"  gate {gate.name} (in step gates)"] += gate.duration
        return times


def _seconds(start, end) -> float:
    return (end - start).total_seconds() if start and end else 0.0


# -- raw ---------------------------------------------------------------------


def raw_run(
    repo: Path, work: Path, venv: Path, number: int
) -> tuple[float, float, dict[str, float]]:
    """The same work by hand, timed per command; return (seconds, CPU seconds,
    per-command seconds)."""
    clone = work / f"raw-{number}"
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PYTHONPATH": str(clone)}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    times: dict[str, float] = {}
    cpu, start = cpu_seconds(), time.perf_counter()

    def step(name: str, args: list[str], cwd: Path | None = clone, check: bool = True) -> None:
        begun = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=check, capture_output=True)
        times[name] = times.get(name, 0.0) + time.perf_counter() - begun

    step("git clone", ["git", "clone", "--quiet", str(repo), str(clone)], cwd=None)
    step("apply test patch", ["git", "apply", str(work / "test.patch")])
    step("tests on base", ["python", "-m", "pytest", "-q"], check=False)  # 2 fail: expected
    step("ruff on base", [RUFF, "check"], check=False)
    step("apply fix", ["git", "apply", str(work / "fix.patch")])
    step("tests on candidate", ["python", "-m", "pytest", "-q"])
    step("ruff on candidate", [RUFF, "check"], check=False)
    step("git add", ["git", "add", "--all"])
    step("git commit", ["git", *IDENTITY, "commit", "-q", "-m", "Split a leading acronym"])
    step("git push", ["git", "push", "-q", str(repo), f"HEAD:refs/heads/raw/{number}"])
    return time.perf_counter() - start, cpu_seconds() - cpu, times


# -- report ------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each side")
    parser.add_argument(
        "--sandbox", help="sandbox for overnight's commands (default: the configuration's)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="overnight-bench-"))
    os.environ["OVERNIGHT_HOME"] = str(work / "home")
    os.environ.pop("OVERNIGHT_CACHE", None)
    os.environ.pop("OVERNIGHT_DATABASE_URL", None)
    from overnight.config import ProjectConfig
    from overnight.store import open_store

    try:
        repo = make_project(work, args.sandbox)
        spec = write_spec(work, repo)
        store = open_store()
        sandbox = args.sandbox or ProjectConfig().sandbox
        print(
            f"project: inflection ({repo}); sandbox {sandbox}; {args.runs} run(s) per side",
            flush=True,
        )
        warm, *_ = overnight_run(store, spec)
        venvs = [p.parent for p in (work / "home" / "cache" / "envs").glob("*/.overnight-ready")]
        print(f"warm-up (builds the environment, untimed): {warm:.2f} s", flush=True)
        print("environment cache warm: both sides run with pytest already installed")

        ours, raw, ours_cpu, raw_cpu = [], [], [], []
        steps: dict[str, list[float]] = defaultdict(list)
        raw_steps: dict[str, list[float]] = defaultdict(list)
        for number in range(1, args.runs + 1):
            elapsed, cpu, task_id, submitted = overnight_run(store, spec)
            ours.append(elapsed)
            ours_cpu.append(cpu)
            steps["submit (intake)"].append(submitted)
            for name, seconds in step_times(store, task_id).items():
                steps[name].append(seconds)
            raw_elapsed, cpu, raw_times = raw_run(repo, work, venvs[0], number)
            raw.append(raw_elapsed)
            raw_cpu.append(cpu)
            for name, seconds in raw_times.items():
                raw_steps[name].append(seconds)
            print(f"run {number}: overnight {elapsed:.2f} s, raw {raw_elapsed:.2f} s", flush=True)

        print("\nraw commands (median s):")
        for name, values in raw_steps.items():
            print(f"  {name:<42} {statistics.median(values):6.2f}")
        print("overnight (median s):")
        for name, values in sorted(steps.items(), key=lambda item: item[0].startswith(" ")):
            print(f"  {name:<42} {statistics.median(values):6.2f}")
        ours_median, raw_median = statistics.median(ours), statistics.median(raw)
        cpu_ratio = statistics.median(ours_cpu) / statistics.median(raw_cpu)
        print(
            f"\nCPU medians (less sensitive to a busy machine): overnight "
            f"{statistics.median(ours_cpu):.2f} s, raw {statistics.median(raw_cpu):.2f} s, "
            f"ratio {cpu_ratio:.2f}"
        )
        print(f"raw median:       {raw_median:.2f} s")
        print(f"overnight median: {ours_median:.2f} s (submit → READY)")
        print(f"ratio overnight/raw: {ours_median / raw_median:.2f} (goal <= 1.2)")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
