"""What a candidate changed, line by line: the view several gates share.

``added_lines`` reads ``git diff -U0`` between the base and the candidate, so
a line counts as changed when it is new or edited (its number is the one in
the candidate). ``is_test_path`` says which files are tests or their harness.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from overnight.workspace import Workspace, git_bytes

TEST_DIRS = {"tests", "test", "testing"}
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def is_test_path(path: str) -> bool:
    """Test modules, conftest.py, and anything under a tests/test/testing directory."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else path
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(p in TEST_DIRS for p in parts[:-1])
    )


def source_files(changed: list[str], workspace: Workspace, sha: str) -> list[str]:
    """Changed Python files that are not tests and exist in the candidate commit ``sha``."""
    return [
        p
        for p in changed
        if p.endswith(".py") and not is_test_path(p) and workspace.exists_at(sha, p)
    ]


def added_lines(
    workspace: Workspace, sha: str, paths: list[str], *, binary: bool = False
) -> dict[str, dict[int, str]]:
    """Per file, the lines ``sha`` adds or edits relative to the base: number -> text.
    ``binary``: binary files too, as if they were text."""
    if not paths:
        return {}
    out = git_bytes(
        [
            "-c",
            "core.quotepath=off",
            "diff",
            "-U0",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            *(["--text"] if binary else []),
            workspace.base_sha,
            sha,
            "--",
            *paths,
        ],
        workspace.path,
    )
    return parse_diff(out.decode("utf-8", "replace"))


def parse_diff(diff: str) -> dict[str, dict[int, str]]:
    lines: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    number = 0
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip().strip('"')
            current = None if target == "/dev/null" else lines.setdefault(target[2:], {})
        elif line.startswith("@@"):
            m = _HUNK.match(line)
            number = int(m.group(1)) if m else 0
        elif line.startswith("+") and current is not None:
            current[number] = line[1:]
            number += 1
    return lines


def ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    out: list[str] = []
    for n in sorted(numbers):
        if out and out[-1].split("-")[-1] == str(n - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)
