"""Carrying a previous run's change onto a run's base (request changes, retry, rebase).

The change is replayed as a three-way merge (``git apply --3way`` through the
git seam, before any agent has run in the clone): every file that merges
cleanly is as the change left it, and only the files that conflict need the
agent, with conflict markers in them (or, for a file git could not merge at
all, the file as the base has it and the change to it in the feedback). The
agent's brief names only those files and repeats the task's earlier review
feedback (``templates/carry/conflicts.j2``). Grading then checks that no
conflict marker is left in what the agent delivers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from overnight.errors import GitError
from overnight.gates import FAIL, PASS, GateOutcome
from overnight.text import trim
from overnight.workspace import Workspace

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "carry"
FILE_DIFF = re.compile(r"^diff --git ", re.MULTILINE)
MARKER = "^(<{7}|>{7})( |$)"  # a conflict marker line, as git grep -E reads it
COUNT = re.compile(r"(.*?)\0(\d+)(?:\n|$)", re.DOTALL)  # git grep -c -z: name NUL count
DIFF_CHARS = 3000  # of each file's change that could not be merged, in the brief


@dataclass
class Carried:
    """What replaying a change left for the agent."""

    conflicts: list[str] = field(default_factory=list)  # files with conflict markers
    unapplied: dict[str, str] = field(default_factory=dict)  # file -> its change, not merged

    @property
    def files(self) -> list[str]:
        return [*self.conflicts, *self.unapplied]


def replay(workspace: Workspace, diff: str) -> Carried:
    """Apply ``diff`` (a previous run's change) to the clone by a three-way merge. When
    one file cannot be merged at all git applies nothing, so then file by file."""
    if _apply(workspace, diff + "\n"):
        return Carried()
    carried = Carried(conflicts=unmerged(workspace))
    if carried.conflicts:
        return carried
    for part in FILE_DIFF.split(diff)[1:]:
        part = "diff --git " + part.rstrip("\n") + "\n"
        before = set(unmerged(workspace))
        if not _apply(workspace, part):
            new = [p for p in unmerged(workspace) if p not in before]
            if new:
                carried.conflicts += new
            else:
                carried.unapplied[_path(workspace, part)] = part
    return carried


def _apply(workspace: Workspace, diff: str) -> bool:
    try:
        workspace.git(["apply", "--3way", "--whitespace=nowarn", "-"], input=diff)
    except GitError:
        return False
    return True


def unmerged(workspace: Workspace) -> list[str]:
    out = workspace.git(["diff", "--name-only", "-z", "--diff-filter=U"])
    return [name for name in out.split("\0") if name]


def _path(workspace: Workspace, part: str) -> str:
    """The file one file's diff changes (its new name, for a rename)."""
    out = workspace.git(["apply", "--numstat", "-z", "-"], input=part, check=False)
    fields = [f for f in out.split("\0") if f]
    return fields[-1].split("\t")[-1] if fields else part.splitlines()[0].split(" b/")[-1]


def brief(carried: Carried, base_sha: str, reviews: list[str]) -> str:
    """What the agent reads: only the conflicts, and the task's earlier review feedback."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    unapplied = [(path, trim(part, DIFF_CHARS)) for path, part in carried.unapplied.items()]
    text = env.get_template("conflicts.j2").render(
        base=base_sha[:10], conflicts=carried.conflicts, unapplied=unapplied, reviews=reviews
    )
    return text.strip()


def leftover_markers(workspace: Workspace, before: str, after: str) -> list[str]:
    """The files with more conflict-marker lines at ``after`` than at ``before`` (two
    trees or commits, searched by ``git grep`` as blobs, every file read as text)."""
    old, new = _markers(workspace, before), _markers(workspace, after)
    return sorted(path for path, count in new.items() if count > old.get(path, 0))


def _markers(workspace: Workspace, rev: str) -> dict[str, int]:
    out = workspace.git(["grep", "-a", "-c", "-z", "-E", MARKER, rev, "--"], check=False)
    return {path.removeprefix(f"{rev}:"): int(count) for path, count in COUNT.findall(out)}


def conflicts_outcome(left: list[str], conflicts: list[str]) -> GateOutcome | None:
    """The ``conflicts`` gate: fails while a conflict marker is left in the change;
    passes, as evidence, when the run started from conflicts (None: nothing to say)."""
    command = "conflicts: no conflict marker left in the changed files"
    if left:
        return GateOutcome(
            "conflicts",
            FAIL,
            f"conflict markers left in {', '.join(left[:5])}",
            command=command,
            log="\n".join(left),
            feedback="These files still hold conflict markers (`<<<<<<<`, `>>>>>>>`): "
            f"resolve each conflict and remove the markers: {', '.join(left[:20])}",
        )
    if conflicts:
        return GateOutcome(
            "conflicts", PASS, f"conflicts resolved in {', '.join(conflicts[:5])}", command=command
        )
    return None
