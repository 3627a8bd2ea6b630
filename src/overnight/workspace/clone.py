"""A task's disposable clone: the base commit and its history, on the task branch.

Clones are made by ``git init`` and a fetch of the base commit alone (and the
tags it descends from, so versions computed from git match the user's
checkout) from the repository cache: no other branch, and nothing a later
commit or another task added. Host git runs in a clone only while no agent
and no code under test can have written to its ``.git`` (see ``workspace.git``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overnight.errors import GitError, WorkspaceError
from overnight.workspace.cache import tags_reaching
from overnight.workspace.git import git, git_bytes, succeeds

IDENTITY = [
    "-c",
    "user.name=overnight",
    "-c",
    "user.email=overnight@localhost",
    "-c",
    "commit.gpgsign=false",
]
IGNORED = [  # what tools leave behind in a workspace; never part of a change
    ".pytest_cache/",
    "__pycache__/",
    "*.pyc",
    "*.egg-info/",
    ".ruff_cache/",
    ".mypy_cache/",
    ".coverage",
    "/build/",
]


@dataclass
class Workspace:
    """A disposable clone of one task, at its base commit, on its branch. With
    ``git_dir`` set (the grading clone), the repository lives outside the working
    tree and host git always names it, so nothing in the tree is read as git's."""

    path: Path
    base_sha: str
    branch: str
    git_dir: Path | None = None

    @classmethod
    def create(
        cls, cache: Path, path: Path, base_sha: str, branch: str, *, separate: bool = False
    ) -> Workspace:
        """A fresh repository holding only the base commit, its history and the
        tags it descends from (``separate``: its git dir beside the tree, at
        ``<path>.git``). A previous clone at ``path`` (a run resumed after a crash)
        is moved aside first, so processes it left behind cannot touch the new one."""
        git_dir = path.with_name(f"{path.name}.git") if separate else None
        for old in (path, git_dir):
            if old is not None and (old.exists() or old.is_symlink()):
                stale = old.with_name(f"{old.name}.stale-{os.getpid()}-{time.monotonic_ns()}")
                old.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        apart = ["--separate-git-dir", str(git_dir)] if git_dir else []
        git(["init", "--quiet", *apart, str(path)])
        work = cls(path, base_sha, branch, git_dir)
        tags = [f"+{tag}:{tag}" for tag in tags_reaching(cache, base_sha)]
        work.git(["fetch", "--quiet", "--no-tags", str(cache), base_sha, *tags])
        work.git(["checkout", "--quiet", "-B", branch, base_sha])
        info = (git_dir or path / ".git") / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "exclude").write_text("\n".join(IGNORED) + "\n")
        return work

    @property
    def repo_dir(self) -> Path:
        """Where git finds this clone's repository: its git dir when apart from the tree."""
        return self.git_dir or self.path

    def git(self, args: list[str], **kwargs: Any) -> str:
        """git in this clone (naming its git dir and tree when they are apart)."""
        return git([*self._where(), *args], self.path, **kwargs)

    def git_bytes(self, args: list[str], **kwargs: Any) -> bytes:
        return git_bytes([*self._where(), *args], self.path, **kwargs)

    def succeeds(self, args: list[str]) -> bool:
        return succeeds([*self._where(), *args], self.path)

    def _where(self) -> list[str]:
        if self.git_dir is None:
            return []
        return ["--git-dir", str(self.git_dir), "--work-tree", str(self.path)]

    def exclude_untracked(self) -> None:
        """Add what is untracked in the tree now to the clone's own exclude list (before any
        agent ran: the products of an install, never part of a change)."""
        out = self.git(["ls-files", "--others", "--exclude-standard", "-z"])
        exclude = (self.git_dir or self.path / ".git") / "info" / "exclude"
        have = set(exclude.read_text().splitlines()) if exclude.is_file() else set()
        lines = ["/" + re.sub(r"([\\*?\[\]!#])", r"\\\1", name) for name in out.split("\0") if name]
        new = [line for line in lines if line not in have]
        if new:
            with open(exclude, "a") as f:
                f.write("\n".join(new) + "\n")

    def apply_patch(self, text: str, name: str) -> None:
        try:
            self.git(["apply", "--whitespace=nowarn", "-"], input=text)
        except GitError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise WorkspaceError(
                f"{name} does not apply at base {self.base_sha[:10]} ({reason}):"
                " regenerate it against that commit"
            ) from exc

    def diff(self, old: str, new: str) -> str:
        """The binary diff between two commits or trees."""
        return self.git(["diff", "--binary", "--full-index", "--no-ext-diff", old, new])

    def reset_to(self, sha: str, *, keep_ignored: bool = False) -> None:
        """The tree exactly as ``sha`` has it; ``keep_ignored`` keeps ignored and excluded
        files (an install's products)."""
        self.git(["reset", "--quiet", "--hard", sha])
        self.git(["clean", "-q", "-ffd" if keep_ignored else "-ffdx", "-e", ".venv"])

    def diffstat(self, sha: str) -> str:
        return self.git(["diff", "--stat", self.base_sha, sha])

    def file_bytes(self, rev: str, rel: str) -> bytes | None:
        """A file's bytes at a commit (None when it has no such file)."""
        if not self.succeeds(["cat-file", "-e", f"{rev}:{rel}"]):
            return None
        return self.git_bytes(["cat-file", "blob", f"{rev}:{rel}"])

    def file_at(self, rev: str, rel: str) -> str | None:
        """A file's text at a commit (None when it has no such file)."""
        data = self.file_bytes(rev, rel)
        return None if data is None else data.decode("utf-8", "replace")

    def file_at_base(self, rel: str) -> str | None:
        return self.file_at(self.base_sha, rel)

    def exists_at(self, rev: str, rel: str) -> bool:
        return self.succeeds(["cat-file", "-e", f"{rev}:{rel}"])

    def tree_with(self, tree: str, source: str, paths: list[str]) -> str:
        """``tree`` with ``paths`` as ``source`` (a commit or tree) has them, or without
        them where it has none; built in a private index, the working tree untouched."""
        if not paths:
            return tree
        where = self.git_dir or self.path / ".git"
        fd, name = tempfile.mkstemp(prefix="index-", dir=where)
        os.close(fd)
        os.unlink(name)  # git makes it; an empty file is not an index
        env = {"GIT_INDEX_FILE": name}
        try:
            self.git(["read-tree", tree], env=env)
            listing = self.git_bytes(
                ["--literal-pathspecs", "ls-tree", "-r", "-z", source, "--", *paths]
            )
            present = {e.split(b"\t", 1)[1].decode() for e in listing.split(b"\0") if e}
            absent = [p for p in paths if p not in present]
            if absent:
                self.git(
                    [
                        "--literal-pathspecs",
                        "rm",
                        "--cached",
                        "-r",
                        "-q",
                        "--ignore-unmatch",
                        "--",
                        *absent,
                    ],
                    env=env,
                )
            if listing:
                self.git_bytes(
                    ["update-index", "-z", "--add", "--replace", "--index-info"],
                    input=listing,
                    env=env,
                )
            return self.git(["write-tree"], env=env)
        finally:
            for leftover in (name, f"{name}.lock"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def archive(self, rev: str) -> bytes:
        """The files of a commit as a tar archive."""
        return self.git_bytes(["archive", "--format=tar", rev])
