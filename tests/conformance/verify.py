"""Check every corpus instance outside overnight, in a plain ``python -m venv``.

For each project: build the user repository from the vendored sdist, create a
virtualenv, run the instance's ``install`` commands in the repository, then

- base + test.patch: each FAIL_TO_PASS test fails for the right reason (its
  failure message matches the project's ``fail_reason``: an assertion or a
  missing feature, never an import error of the environment) and each
  PASS_TO_PASS test passes;
- base + gold.patch + test.patch (the install commands run again, as a
  developer rebuilds after a change): every one of them passes.

Run by hand (PyPI must be reachable):

    python tests/conformance/verify.py [NAME ...] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import Project, build_repo, git, load, names  # noqa: E402

PLUGIN = """
import json, os

outcomes = {}


def _record(nodeid, outcome, message):
    worst = ("error", "failed", "skipped", "passed")
    old = outcomes.get(nodeid)
    if old is None or worst.index(outcome) < worst.index(old["outcome"]):
        outcomes[nodeid] = {"outcome": outcome, "message": message}


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    return str(report.longrepr or "")[-500:]


def pytest_runtest_logreport(report):
    if report.passed and report.when != "call":
        return
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    else:
        outcome = "skipped" if report.skipped else "passed"
    _record(report.nodeid, outcome, _message(report) if not report.passed else "")


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid, "error", _message(report))


# only the instance's tests run, as in overnight: a whole file may hold slow or
# resource-hungry tests (test_tarfile's large-file tests write gigabytes)
def pytest_collection_modifyitems(config, items):
    with open(os.environ["CONFORMANCE_SELECT"]) as f:
        wanted = json.load(f)
    keep, drop = [], []
    for item in items:
        chosen = any(item.nodeid == w or item.nodeid.startswith(w + "[") for w in wanted)
        (keep if chosen else drop).append(item)
    items[:] = keep
    config.hook.pytest_deselected(items=drop)


def pytest_sessionfinish(session):
    with open(os.environ["CONFORMANCE_OUTCOMES"], "w") as out:
        json.dump(outcomes, out)
"""


class Failure(Exception):
    pass


def run(cmd: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {cmd}\n")
        out.flush()
        done = subprocess.run(cmd, shell=True, cwd=cwd, env=env, stdout=out, stderr=out)
    if done.returncode != 0:
        raise Failure(f"`{cmd}` exited {done.returncode}; see {log}")


def outcomes(project: Project, repo: Path, env: dict[str, str], work: Path) -> dict[str, dict]:
    item = project.instance
    nodes = item["FAIL_TO_PASS"] + item["PASS_TO_PASS"]
    files = " ".join(shlex.quote(f) for f in sorted({n.split("::")[0] for n in nodes}))
    command = item["test_cmd"].replace("{tests}", files)
    out = work / "outcomes.json"
    out.unlink(missing_ok=True)
    (work / "select.json").write_text(json.dumps(nodes))
    env = {
        **env,
        "CONFORMANCE_OUTCOMES": str(out),
        "CONFORMANCE_SELECT": str(work / "select.json"),
        "PYTHONPATH": str(work / "plugin"),
        "PYTEST_ADDOPTS": "-p conformance_outcomes -p no:cacheprovider",
    }
    with (work / "tests.log").open("a") as log:
        log.write(f"$ {command}\n")
        log.flush()
        subprocess.run(command, shell=True, cwd=repo, env=env, stdout=log, stderr=log)
    if not out.exists():
        raise Failure(f"`{command}` recorded no outcomes; see {work / 'tests.log'}")
    found = json.loads(out.read_text())
    missing = [n for n in nodes if n not in found and not _items(found, n)]
    if missing:
        raise Failure(f"not run: {', '.join(missing)}; see {work / 'tests.log'}")
    return {n: found[n] if n in found else _worst(_items(found, n)) for n in nodes}


def _items(found: dict[str, dict], node: str) -> list[dict]:
    """The outcomes of a parametrized test's cases, selected by the test's node id."""
    return [v for k, v in found.items() if k.startswith(node) and k[len(node)] == "["]


def _worst(items: list[dict]) -> dict:
    order = ("error", "failed", "skipped", "passed")
    return min(items, key=lambda v: order.index(v["outcome"]))


def verify(project: Project, work: Path) -> str:
    (work / "plugin").mkdir(parents=True)
    (work / "plugin" / "conformance_outcomes.py").write_text(PLUGIN)
    repo, _ = build_repo(project, work / "repo")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    env = {
        "PATH": f"{work / 'venv' / 'bin'}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(work / "venv"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    item = project.instance
    for cmd in item["install"]:
        run(cmd, repo, env, work / "install.log")
    git(["apply", "-"], repo, input=item["test_patch"])
    before = outcomes(project, repo, env, work)
    reason = re.compile(project.meta["fail_reason"])
    problems = []
    for node in item["FAIL_TO_PASS"]:
        got = before[node]
        if got["outcome"] != "failed" or not reason.search(got["message"]):
            problems.append(f"before: {node} {got['outcome']}: {got['message'][:200]!r}")
    for node in item["PASS_TO_PASS"]:
        if before[node]["outcome"] != "passed":
            problems.append(f"before: {node} {before[node]['outcome']}")
    git(["apply", "-"], repo, input=item["patch"])
    for cmd in item["install"]:
        run(cmd, repo, env, work / "install.log")
    after = outcomes(project, repo, env, work)
    for node in item["FAIL_TO_PASS"] + item["PASS_TO_PASS"]:
        got = after[node]
        if got["outcome"] != "passed":
            problems.append(f"after: {node} {got['outcome']}: {got['message'][:200]!r}")
    if problems:
        raise Failure("; ".join(problems))
    first = before[item["FAIL_TO_PASS"][0]]["message"].splitlines()[0][:80]
    return (
        f"{len(item['FAIL_TO_PASS'])} fail ({first}) then pass; "
        f"{len(item['PASS_TO_PASS'])} pass throughout"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="projects (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    args = parser.parse_args()
    failed = 0
    for name in args.names or names():
        work = Path(tempfile.mkdtemp(prefix=f"conformance-{name}-"))
        start = time.monotonic()
        try:
            verdict = "ok    " + verify(load(name), work)
        except Failure as exc:
            failed += 1
            verdict = f"FAIL  {exc}"
        print(f"{name:20} {time.monotonic() - start:5.1f} s  {verdict}", flush=True)
        if not args.keep and not verdict.startswith("FAIL"):
            shutil.rmtree(work, ignore_errors=True)
        elif verdict.startswith("FAIL") or args.keep:
            print(f"{'':20} kept {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
