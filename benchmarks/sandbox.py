"""Start overhead of the bwrap sandbox over a plain subprocess (the ``none`` backend).

    .venv/bin/python benchmarks/sandbox.py [--runs 30]

Runs ``true`` and a small pytest run (three tests) in a throwaway workspace
(plugin autoload off) as a plain ``subprocess.run(["bash", "-c", ...])``, through the ``none``
backend and through ``bwrap``, interleaved, and prints the medians; the last
line is what bwrap adds over the plain subprocess (goal: at most 30 ms). The
bwrap runs use the default limits, so they include handing the workspace to
the task uid and creating and removing the cgroup.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from overnight.sandbox import Sandbox, base_environ
from overnight.sandbox.bwrap import BwrapSandbox
from overnight.sandbox.none import NoSandbox

TESTS = """
def test_one():
    assert 1 + 1 == 2

def test_two():
    assert "a" * 2 == "aa"

def test_three():
    assert sorted([3, 1, 2]) == [1, 2, 3]
"""


class Plain:
    """The baseline: bash in a subprocess, nothing else."""

    name = "plain"

    def run(self, command: str, *, cwd: Path, env: dict[str, str], timeout: float):  # noqa: ANN201
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True)
        return proc


def timed(sandbox: Sandbox | Plain, command: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = sandbox.run(command, cwd=cwd, env=env, timeout=120)
    elapsed = time.perf_counter() - start
    code = done.returncode if isinstance(done, subprocess.CompletedProcess) else done.exit_code
    if code != 0:
        raise SystemExit(f"{sandbox.name}: `{command}` failed")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # 'none' warns on every run, by design
    with tempfile.TemporaryDirectory(prefix="overnight-bench-") as tmp:
        os.environ["OVERNIGHT_HOME"] = str(Path(tmp) / "home")
        workspace = Path(tmp) / "home" / "workspaces" / "1-r1"
        (workspace / "tests").mkdir(parents=True)
        (workspace / "tests" / "test_small.py").write_text(TESTS)
        env = base_environ()
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # plugins in this venv cost seconds: noise
        backends: list[Sandbox | Plain] = [Plain(), NoSandbox(), BwrapSandbox()]
        commands = {"true": "true", "pytest": "python -m pytest -q -p no:cacheprovider tests"}
        medians: dict[tuple[str, str], float] = {}
        for label, command in commands.items():
            samples: dict[str, list[float]] = {b.name: [] for b in backends}
            for sandbox in backends:  # warm up: page cache, the first cgroup
                timed(sandbox, command, workspace, env)
            for _ in range(args.runs):
                for sandbox in backends:
                    samples[sandbox.name].append(timed(sandbox, command, workspace, env))
            for name, values in samples.items():
                medians[(label, name)] = statistics.median(values)
                print(
                    f"{label:<7} {name:<5} median {medians[(label, name)]:7.1f} ms "
                    f"(min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"
                )
    parts = []
    for label in commands:
        plain, boxed = medians[(label, "plain")], medians[(label, "bwrap")]
        parts.append(f"{label} +{boxed - plain:.1f} ms (x{boxed / plain:.2f})")
    print("bwrap added over a plain subprocess: " + ", ".join(parts) + "; goal <= 30 ms")


if __name__ == "__main__":
    main()
