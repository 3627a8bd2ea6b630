"""Coding standards: the repository's instructions to agents (AGENTS.md,
CLAUDE.md, CONVENTIONS.md, .cursorrules, .github/copilot-instructions.md, or
the files ``standards`` names in overnight.toml).

They are read at the task's base commit, from git's objects, so an agent that
edits them in its clone changes nothing it is given. The built-in agent gets
their text in its task prompt; a command agent gets their paths in
``$OVERNIGHT_STANDARDS``; every run records which were given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overnight.config import STANDARD_FILES
from overnight.text import trim
from overnight.workspace import files_at

CONVENTION_CHARS = 4000  # of each file, in the task prompt
CONVENTION_FILES = STANDARD_FILES


@dataclass
class Convention:
    path: str
    text: str


def standards_at(repo: Path, sha: str, paths: list[str]) -> list[Convention]:
    """The standards among ``paths`` that exist at ``sha`` and say something, in the
    order of ``paths``."""
    found = files_at(repo, sha, paths)
    given = []
    for path in paths:
        text = found.get(path, "").strip()
        if text:
            given.append(Convention(path, trim(text, CONVENTION_CHARS)))
    return given


def conventions(
    workspace: Path, paths: tuple[str, ...] | list[str] = STANDARD_FILES
) -> list[Convention]:
    """The standards as files in a workspace (for an agent run without a base commit to
    read them at, like a test's), in the order of ``paths``."""
    found = []
    for name in paths:
        path = workspace / name
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace").strip()
            if text:
                found.append(Convention(name, trim(text, CONVENTION_CHARS)))
    return found
