"""Wall time of the full gate set, sequential against parallel; fail-fast against the full suite.

What is measured, on a mid-size real project (more-itertools 10.5.0, ~13,000
lines, 663 tests plus 2,332 subtests, built at run time from its PyPI sdist
into a git repository):

1. the full gate set (scope, test-integrity, lint, types, docs, security,
   tests, coverage, downstream, a custom command, review against a scripted
   reviewer) on an honest candidate — a new documented function, its tests
   and a changelog line — run one gate at a time (``parallel=1``) and with the
   default thread pool, alternating, N times each, after one untimed warm-up;
2. on a broken candidate, the tests gate's fail-fast run (acceptance tests
   first, stop at the first failure) against the same run without stopping
   (the whole suite): the time to the first failing acceptance test;
3. on the honest candidate, the tests gate with its canaries (mutants of the
   acceptance tests and tests that must fail, planted and judged) against the
   same gate without them: what tamper evidence costs (goal: at most 10%).

The project's tests use overnight's own Python (pytest plugins it has but a
project would not are switched off); the downstream repository gets a cached
virtualenv (built once, untimed, under ``--cache``).

    .venv/bin/python benchmarks/gates.py [--runs 3] [--cache DIR] [--keep]

Medians and CPU seconds (steadier on a busy machine) are printed; the ratios
come last.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from overnight.environment import Environment
from overnight.gates import Baseline, GateContext, run_gates
from overnight.gates.pytest_run import run_suite
from overnight.gates.settings import parse_config
from overnight.gates.tests import TestsGate
from overnight.pipeline.baseline import measure_baseline
from overnight.sandbox import get_sandbox
from overnight.spec import Spec
from overnight.testing.llm_server import Say, ScriptedLLMServer
from overnight.workspace import Workspace, git

PACKAGE, VERSION = "more-itertools", "10.5.0"
IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
NEW_FUNCTION = '''

def pairwise_sums(iterable: list[int]) -> list[int]:
    """Return the sums of adjacent items: ``pairwise_sums([1, 2, 3])`` is ``[3, 5]``."""
    items = list(iterable)
    return [a + b for a, b in zip(items, items[1:])]
'''
ACCEPTANCE_TESTS = """from more_itertools.more import pairwise_sums


def test_pairwise_sums():
    assert pairwise_sums([1, 2, 3]) == [3, 5]


def test_pairwise_sums_of_nothing():
    assert pairwise_sums([]) == []
"""
ACCEPTANCE = [
    "tests/test_pairwise.py::test_pairwise_sums",
    "tests/test_pairwise.py::test_pairwise_sums_of_nothing",
]
CONSUMER = {
    "consumer.py": "from more_itertools import chunked\n\n\ndef pages(xs, n):\n"
    "    return list(chunked(xs, n))\n",
    "tests/test_consumer.py": "from consumer import pages\n\n\ndef test_pages():\n"
    "    assert pages([1, 2, 3], 2) == [[1, 2], [3]]\n",
}


def cpu_seconds() -> float:
    usages = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def commit(repo: Path, message: str) -> str:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", *IDENTITY, "commit", "-q", "-m", message], cwd=repo, check=True)
    return git(["rev-parse", "HEAD"], repo)


def fetch_sdist(cache: Path) -> Path:
    """The sdist, downloaded once with pip into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"more_itertools-{VERSION}.tar.gz")) + sorted(
        cache.glob(f"more-itertools-{VERSION}.tar.gz")
    )
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{PACKAGE}=={VERSION}",
                "-d",
                str(cache),
            ],
            check=True,
        )
        return fetch_sdist(cache)
    return found[0]


def make_project(work: Path, cache: Path) -> tuple[Path, str]:
    with tarfile.open(fetch_sdist(cache)) as sdist:
        sdist.extractall(work, filter="data")
    repo = next(work.glob("more*itertools-*"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    return repo, commit(repo, "more-itertools")


def candidate(repo: Path, base: str, broken: bool) -> tuple[str, list[str]]:
    """Check out a new candidate commit on top of the base; return its sha and changed files."""
    subprocess.run(["git", "checkout", "-q", "-f", base], cwd=repo, check=True)
    body = NEW_FUNCTION.replace("[a + b for", "[] or [0 for") if broken else NEW_FUNCTION
    with open(repo / "more_itertools" / "more.py", "a") as f:
        f.write(body)
    (repo / "tests" / "test_pairwise.py").write_text(ACCEPTANCE_TESTS)
    with open(repo / "docs" / "versions.rst", "a") as f:
        f.write("\n* ``pairwise_sums`` was added.\n")
    sha = commit(repo, "candidate")
    changed = git(["diff", "--name-only", base, sha], repo).split()
    return sha, changed


def context(repo: Path, base: str, toml: str, env: dict[str, str]) -> GateContext:
    spec = Spec(
        title="Add pairwise_sums",
        description="Add `pairwise_sums(iterable)` to "
        "more_itertools.more, with tests and a changelog entry.",
        acceptance_tests=list(ACCEPTANCE),
    )
    return GateContext(
        workspace=Workspace(repo, base, "main"),
        spec=spec,
        config=parse_config({"overnight.toml": toml}),
        baseline=Baseline(),
        sandbox=get_sandbox("none"),
        environ=env,
        changed=[],
        protected=[],
        sha=base,
        timeout=900,
        repo=str(repo),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "overnight-bench",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    os.environ["OVERNIGHT_CACHE"] = str(args.cache)  # the downstream environment, reused
    work = Path(tempfile.mkdtemp(prefix="overnight-bench-gates-"))
    server = ScriptedLLMServer(
        [
            lambda body: Say(
                '{"verdict": "pass", "does_what_was_asked": '
                'true, "summary": "ok", "missing": [], '
                '"risks": []}'
            )
        ]
        * (4 * args.runs + 8)
    )
    try:
        with server:
            report(work, args, server)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(work: Path, args: argparse.Namespace, server: ScriptedLLMServer) -> None:
    repo, base = make_project(work, args.cache / "sdists")
    consumer = work / "consumer"
    consumer.mkdir()
    for name, text in CONSUMER.items():
        (consumer / name).parent.mkdir(parents=True, exist_ok=True)
        (consumer / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main", str(consumer)], check=True)
    commit(consumer, "consumer")
    toml = f"""test_cmd = "python -m pytest -q"
lint_cmd = "ruff check --select E9,F63,F7,F82 --no-cache"
[gates.types]
command = "mypy more_itertools/more.py"
[gates.coverage]
blocking = true
[gates.downstream]
repos = [{{repo = "{consumer}", setup = ["python -m pip install pytest"]}}]
[gates.review]
model = "{server.model_name}"
[gates.command.compiles]
command = "python -m compileall -q more_itertools"
"""
    env = Environment(None).environ(repo, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    ctx = context(repo, base, toml, env)
    (repo / "tests" / "test_pairwise.py").write_text(ACCEPTANCE_TESTS)  # baseline: tests patched in
    start = time.monotonic()
    ctx.baseline, _ = measure_baseline(ctx)
    print(
        f"baseline (untimed setup included): {time.monotonic() - start:.1f} s, "
        f"{len(ctx.baseline.passing())} passing tests"
    )
    ctx.sha, ctx.changed = candidate(repo, base, broken=False)

    results = last_sequential = run_gates(ctx)  # warm-up: downstream clone, mypy cache
    print("gates:", ", ".join(f"{r.name} {r.verdict}" for r in results))
    times: dict[str, list[float]] = {"sequential": [], "parallel": []}
    cpu: dict[str, list[float]] = {"sequential": [], "parallel": []}
    for _ in range(args.runs):
        for mode, width in (("sequential", 1), ("parallel", None)):
            ctx.evidence.clear()
            c0, t0 = cpu_seconds(), time.monotonic()
            results = run_gates(ctx, parallel=width)
            times[mode].append(time.monotonic() - t0)
            cpu[mode].append(cpu_seconds() - c0)
            bad = [r.name for r in results if r.verdict in ("fail", "error")]
            assert not bad, f"the honest candidate failed {bad}"
            if width == 1:
                last_sequential = results
    for mode, last in (("sequential", last_sequential), ("parallel", results)):
        slowest = sorted(last, key=lambda r: -r.duration)[:5]
        print(
            f"slowest gates ({mode}, last run):",
            ", ".join(f"{r.name} {r.duration:.1f} s" for r in slowest),
        )

    plain: list[float] = []
    guarded: list[float] = []
    for _ in range(args.runs):
        for gate, into in ((TestsGate(canaries=False), plain), (TestsGate(), guarded)):
            t0 = time.monotonic()
            outcome = gate.check(ctx)
            into.append(time.monotonic() - t0)
            assert outcome.verdict == "pass", outcome.summary

    ctx.sha, ctx.changed = candidate(repo, base, broken=True)
    fast: list[float] = []
    full: list[float] = []
    for _ in range(args.runs):
        for stop, into in ((True, fast), (False, full)):
            t0 = time.monotonic()
            suite = run_suite(
                ctx.sandbox,
                repo,
                env,
                "python -m pytest -q",
                ACCEPTANCE,
                "all",
                900,
                fail_fast=stop,
            )
            into.append(time.monotonic() - t0)
            assert suite.outcome(ACCEPTANCE[0]) == "failed" and suite.stopped == stop
    print()
    for mode in times:
        print(
            f"{mode:>10}: median {statistics.median(times[mode]):6.2f} s wall, "
            f"{statistics.median(cpu[mode]):6.2f} s CPU  ({args.runs} runs)"
        )
    print(
        f"{'fail-fast':>10}: median {statistics.median(fast):6.2f} s to the first failing "
        "acceptance test"
    )
    print(f"{'full suite':>10}: median {statistics.median(full):6.2f} s")
    print(
        f"{'tests gate':>10}: median {statistics.median(plain):6.2f} s without canaries, "
        f"{statistics.median(guarded):6.2f} s with them"
    )
    print(
        f"ratio sequential/parallel (full gate set): "
        f"{statistics.median(times['sequential']) / statistics.median(times['parallel']):.2f}"
    )
    print(
        f"ratio full-suite/fail-fast (first failing acceptance test): "
        f"{statistics.median(full) / statistics.median(fast):.2f}"
    )
    print(
        f"ratio canaries/plain (the tests gate, goal <= 1.10): "
        f"{statistics.median(guarded) / statistics.median(plain):.2f}"
    )


if __name__ == "__main__":
    main()
