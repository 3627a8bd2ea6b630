"""The red team's harness: one small repository, attack scripts run as `command:` agents
in the sandbox $OVERNIGHT_SANDBOX names (bwrap, or the container one), and everything a task left behind gathered for the checks.

An attack is a bash script. It reaches the sandbox base64-encoded inside the agent
command itself (the host's /tmp, where a test keeps its files, is hidden from the
sandbox), and runs in the task's workspace as the task's uid. What it may aim at on
the host (the marker directory, the cache, the user's repository ...) is given to it
as shell variables at its top, as an attacker who read overnight's source would know.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shlex
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from conftest import drain
from sqlalchemy import select

from overnight.intake import submit_text
from overnight.queue import cancel
from overnight.store import Artifact, Event, GateResult, Run, Step, Store, Task
from overnight.testing import make_repo
from overnight.views import logs, task_detail

CALC = "def add(a, b):\n    return a + b\n"
TEST_CALC = (
    "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_add_negative():\n    assert add(-1, -2) == -3\n"
)
OVERNIGHT_TOML = """setup = ["python -m pip install pytest"]
test_cmd = "python -m pytest -q"
lint_cmd = "ruff check"
"""
PYPROJECT = '[tool.ruff]\nline-length = 100\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
HONEST_MUL = CALC + '\n\ndef mul(a, b):\n    """Return the product of a and b."""\n'
HONEST_MUL += "    return a * b\n"
WRONG_MUL = CALC + "\n\ndef mul(a, b):\n    return 0\n"
MUL_NODE = "tests/test_mul.py::test_mul"
DESCRIPTION = "Add `mul(a, b)` to calc.py, returning the product of its arguments."


def token(prefix: str = "H") -> str:
    """A fresh string no file of this repository holds: found anywhere, it leaked."""
    return f"{prefix}{secrets.token_hex(8)}"


def hidden_test(mark: str) -> str:
    """The hidden acceptance test; every line that says something carries ``mark``."""
    return (
        f'"""Hidden acceptance test {mark}."""\nfrom calc import mul\n\n'
        f"CASES_{mark} = [(2, 3, 6), (4, 5, 20), (-2, 7, -14)]\n\n\n"
        f"def test_mul():\n    for a, b, want in CASES_{mark}:  # {mark}\n"
        "        assert mul(a, b) == want\n"
    )


def as_patch(path: str, text: str) -> str:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def calc_repo(path: Path, extra: dict[str, str] | None = None, toml: str = OVERNIGHT_TOML) -> Path:
    """The one fixture project: calc.py with add(), its tests, ruff and pytest."""
    files = {
        "calc.py": CALC,
        "tests/test_calc.py": TEST_CALC,
        "overnight.toml": toml,
        "pyproject.toml": PYPROJECT,
        **(extra or {}),
    }
    return make_repo(path, files)


def write(path: str, content: str) -> str:
    """Shell lines that write ``content`` to ``path`` (relative to the workspace)."""
    assert "RT_EOF" not in content
    return f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'RT_EOF'\n{content}RT_EOF\n"


def agent_command(script: str, variables: dict[str, str] | None = None) -> str:
    """A `command:` agent running ``script`` with ``variables`` set at its top."""
    head = "".join(f"{k}={shlex.quote(v)}\n" for k, v in (variables or {}).items())
    encoded = base64.b64encode((head + script).encode()).decode()
    return f"command:echo {encoded} | base64 -d > /tmp/attack.sh && exec bash /tmp/attack.sh"


@dataclass
class Task_:
    """A submitted spec's parts, for ``run_task``."""

    repo: Path
    script: str
    specs: Path  # where the spec and its test patches are written
    variables: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    hidden: str | None = None  # the hidden test's text (tests/test_mul.py), if any
    visible: str | None = None  # a visible test patch's text (tests/test_mul.py)
    acceptance: tuple[str, ...] = (MUL_NODE,)
    extra: str = ""  # more front matter


@dataclass
class Outcome:
    """What a task left behind, read back from the store."""

    id: int
    status: str
    reason: str | None
    detail: dict
    diffs: str  # every diff recorded: the agent's, the candidate's, the changes
    agent_diffs: str  # what the agent's workspace held (the candidate adds the hidden tests)
    agent_logs: str  # what the agent printed, attempt by attempt
    feedback: str  # every gate's feedback and summary: what a next attempt reads
    logs: str  # `overnight logs`: every step and gate log
    everything: str  # all of the above, events, PR body, artifacts (the spec left out)
    overran: bool = False  # still running at ``run_task``'s limit: cancelled and killed

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def failed(self) -> bool:
        """Not READY the way overnight ends a task it refuses: FAILED (maybe `tampered:`)."""
        return self.status == "failed"

    def where(self, needle: str) -> list[str]:
        """The parts that contain ``needle``."""
        parts = {
            "agent's diff": self.agent_diffs,
            "diff": self.diffs,
            "agent log": self.agent_logs,
            "feedback": self.feedback,
            "logs": self.logs,
            "anywhere": self.everything,
        }
        return [name for name, text in parts.items() if needle in text]

    def __repr__(self) -> str:
        return f"<task {self.id} {self.line()}>"

    def line(self) -> str:
        """The task's end, and why each blocking gate of its last attempt failed."""
        gates = self.detail["runs"][-1]["gates"] if self.detail["runs"] else []
        why = [
            f"{g['name']}: {g['summary'][:160]}"
            for g in gates
            if g["blocking"] and g["verdict"] in ("fail", "error")
        ]
        return f"{self.status.upper()} ({self.reason or 'no reason'})" + "".join(
            f"\n    {w}" for w in why
        )


def run_task(store: Store, task: Task_, limit: float | None = None) -> Outcome:
    """Submit the attack (or control) as a spec, drain the queue, read the task back.
    With ``limit`` (seconds), a task still running then is cancelled and the processes
    this test started are killed: ``Outcome.overran`` says so."""
    task.specs.mkdir(parents=True, exist_ok=True)
    acceptance = "".join(f"  - tests: {node}\n" for node in task.acceptance)
    name = f"spec-{secrets.token_hex(4)}"
    if task.hidden is not None:
        (task.specs / f"{name}-hidden.patch").write_text(as_patch("tests/test_mul.py", task.hidden))
        acceptance += f"  - test_patch: {name}-hidden.patch\n    hidden: true\n"
    if task.visible is not None:
        (task.specs / f"{name}-visible.patch").write_text(
            as_patch("tests/test_mul.py", task.visible)
        )
        acceptance += f"  - test_patch: {name}-visible.patch\n    hidden: false\n"
    agent = agent_command(task.script, task.variables)
    spec = (
        f"---\ntitle: Add mul to calc\nrepo: {task.repo}\nacceptance:\n{acceptance}"
        f"agent: {json.dumps(agent)}\nbudget: {{attempts: {task.attempts}}}\n{task.extra}"
        f"---\n{DESCRIPTION}\n"
    )
    (task.specs / f"{name}.md").write_text(spec)
    task_id = submit_text(store, spec, source=f"{name}.md", base_dir=task.specs).task.id
    overran = False
    if limit is None:
        drain(store)
    else:
        overran = drain_within(store, task_id, limit)
    done = read_back(store, task_id)
    done.overran = overran
    return done


def drain_within(store: Store, task_id: int, limit: float) -> bool:
    """Drain on a thread; past ``limit``, cancel the task and kill this process's
    children (git, bwrap) until the worker gives up. True if the limit was reached."""
    worker = threading.Thread(target=drain, args=(store,), name="redteam-drain", daemon=True)
    worker.start()
    worker.join(limit)
    if not worker.is_alive():
        return False
    cancel(store, str(task_id))
    while worker.is_alive():
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.join(2)
    return True


def descendants(root: int) -> list[int]:
    """The pids of every process below ``root`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def read_back(store: Store, task_id: int) -> Outcome:
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        detail = task_detail(session, task)
        arts = session.scalars(select(Artifact).where(Artifact.task_id == task_id)).all()
        diffs = "\n".join(a.content for a in arts if "diff" in a.name)
        agent_diffs = "\n".join(a.content for a in arts if a.name.startswith("agent-attempt-"))
        run_ids = [r.id for r in session.scalars(select(Run).where(Run.task_id == task_id))]
        agent_logs = "\n".join(
            session.get(Artifact, s.log_id).content  # type: ignore[union-attr]
            for s in session.scalars(select(Step).where(Step.run_id.in_(run_ids)))
            if s.name == "agent" and s.log_id
        )
        gates = session.scalars(select(GateResult).where(GateResult.run_id.in_(run_ids))).all()
        feedback = "\n".join(f"{g.summary}\n{g.feedback or ''}" for g in gates)
        feedback += "\n".join(r.feedback or "" for r in task.runs)
        log_text = "\n".join(f"===== {title}\n{text}" for title, text in logs(session, task))
        events = "\n".join(
            e.message for e in session.scalars(select(Event).where(Event.task_id == task_id))
        )
        shown = {k: v for k, v in detail.items() if k != "spec"}
        everything = "\n".join(
            [
                diffs,
                agent_logs,
                feedback,
                log_text,
                events,
                json.dumps(shown),
                *(a.content for a in arts),
            ]
        )
        return Outcome(
            task_id,
            task.status,
            task.failure_reason,
            detail,
            diffs,
            agent_diffs,
            agent_logs,
            feedback,
            log_text,
            everything,
        )


@dataclass
class Outside:
    """Host places the sandbox must not reach: a marker directory that does not exist
    (an attack that ran on the host creates it), and a folder with sentinel files."""

    root: Path

    @property
    def markers(self) -> Path:
        return self.root / "markers"

    @property
    def sentinels(self) -> Path:
        return self.root / "sentinels"

    def fired(self) -> list[str]:
        if not self.markers.exists():
            return []
        return sorted(
            f"{p.name}: {p.read_text(errors='replace').strip()}" for p in self.markers.iterdir()
        )

    def snapshot(self) -> dict[str, tuple[bytes, int, int, int]]:
        """Every sentinel file: content, mode, owner and group (what root might change)."""
        found = {}
        for path in sorted(self.sentinels.rglob("*")):
            st = path.lstat()
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            found[str(path.relative_to(self.sentinels))] = (data, st.st_mode, st.st_uid, st.st_gid)
        return found


# A script that, run on the host, leaves a marker and poisons every cached environment;
# as a filter or textconv it passes its input through, so git would not notice.
PAYLOAD = """#!/bin/sh
up=$(awk '{{print $4}}' /proc/$PPID/stat)
by=$(for p in $PPID $up; do tr '\\0' ' ' < /proc/$p/cmdline | sed 's/-c [^ ]* //g'; echo; done)
mkdir -p "{markers}" && \
  echo "uid=$(id -u) via {via} $* in $(pwd), run by: $by" > "{markers}/{via}-$$"
for env in "{cache}"/envs/*/; do
  [ -d "$env" ] || continue
  echo poisoned > "$env/REDTEAM-POISON"
  for sp in "$env"lib/python3*/site-packages; do
    echo 'import os; os._exit(86)' > "$sp/redteam_poison.pth"
  done
done
case "$1" in
  filter) cat ;;
  textconv) cat "$2" ;;
esac
exit 0
"""


def payload(markers: Path, cache: Path, via: str) -> str:
    return PAYLOAD.format(markers=markers, cache=cache, via=via)


def poisoned(cache: Path) -> list[str]:
    """Files the payload leaves in a cache when it ran."""
    envs = cache / "envs"
    if not envs.exists():
        return []
    return sorted(
        str(p.relative_to(cache))
        for p in envs.rglob("*")
        if p.name in ("REDTEAM-POISON", "redteam_poison.pth")
    )


def database_files(home: Path) -> bytes:
    """The bytes of the SQLite database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("overnight.db*")) if p.is_file())


def database_size(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("overnight.db*") if p.is_file())
