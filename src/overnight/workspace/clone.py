"""A task's disposable clone: the base commit and its history, on the task branch.

Clones are made by ``git init`` and a fetch of the base commit alone (and the
tags it descends from, so versions computed from git match the user's
checkout) from the repository cache: no other branch, and nothing a later
commit or another task added. Host git runs in a clone only while no agent
and no code under test can have written to its ``.git`` (see ``workspace.git``).
"""

from __future__ import annotations

import calendar
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
    ".pytest_cache/", "__pycache__/", "*.pyc", "*.egg-info/", ".ruff_cache/", ".mypy_cache/",
    ".coverage", "/build/",
]  # fmt: skip


@dataclass
class Workspace:
    """A disposable clone of one task, at its base commit, on its branch."""

    path: Path
    base_sha: str
    branch: str

    @classmethod
    def create(cls, cache: Path, path: Path, base_sha: str, branch: str) -> Workspace:
        """A fresh repository holding only the base commit, its history and the
        tags it descends from. A previous clone at ``path`` (a run resumed after
        a crash) is moved aside first, so processes it left behind cannot touch
        the new one."""
        if path.exists() or path.is_symlink():
            stale = path.with_name(f"{path.name}.stale-{os.getpid()}-{time.monotonic_ns()}")
            path.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        git(["init", "--quiet", str(path)])
        tags = [f"+{tag}:{tag}" for tag in tags_reaching(cache, base_sha)]
        git(["fetch", "--quiet", "--no-tags", str(cache), base_sha, *tags], path)
        git(["checkout", "--quiet", "-B", branch, base_sha], path)
        (path / ".git" / "info").mkdir(parents=True, exist_ok=True)
        (path / ".git" / "info" / "exclude").write_text("\n".join(IGNORED) + "\n")
        return cls(path, base_sha, branch)

    def apply_patch(self, text: str, name: str) -> None:
        try:
            git(["apply", "--whitespace=nowarn", "-"], self.path, input=text)
        except GitError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise WorkspaceError(
                f"{name} does not apply at base {self.base_sha[:10]} ({reason}):"
                " regenerate it against that commit"
            ) from exc

    def changed_files(self) -> list[str]:
        """Files that differ from the base in the working tree, untracked included."""
        git(["add", "--all"], self.path)
        out = git(["diff", "--cached", "--name-only", "-z", "--no-renames", self.base_sha],
                  self.path)  # fmt: skip
        return [name for name in out.split("\0") if name]

    def diff(self, rev: str | None = None) -> str:
        git(["add", "--all"], self.path)
        args = (
            ["diff", "--binary", self.base_sha, rev]
            if rev
            else ["diff", "--cached", "--binary", self.base_sha]
        )
        return git(args, self.path)

    def commit(self, message: str, date: datetime | None = None) -> str:
        """Commit the whole tree as one commit on top of the base; return its sha."""
        git(["add", "--all"], self.path)
        git(["reset", "--quiet", "--soft", self.base_sha], self.path)
        stamp = f"{calendar.timegm(date.timetuple())} +0000" if date else None  # git's raw form
        when = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp} if stamp else {}
        git(
            [*IDENTITY, "commit", "--quiet", "--allow-empty", "--no-verify", "-F", "-"],
            self.path,
            input=message,
            env=when,
        )
        return git(["rev-parse", "HEAD"], self.path)

    def reset_to(self, sha: str) -> None:
        git(["reset", "--quiet", "--hard", sha], self.path)
        git(["clean", "-q", "-ffdx", "-e", ".venv"], self.path)

    def diffstat(self, sha: str) -> str:
        return git(["diff", "--stat", self.base_sha, sha], self.path)

    def file_at(self, rev: str, rel: str) -> str | None:
        """A file's text at a commit (None when it has no such file)."""
        data = self.bytes_at(rev, rel)
        return None if data is None else data.decode("utf-8", "replace")

    def bytes_at(self, rev: str, rel: str) -> bytes | None:
        """A file's bytes at a commit, undecoded (None when it has no such file)."""
        if not succeeds(["cat-file", "-e", f"{rev}:{rel}"], self.path):
            return None
        return git_bytes(["cat-file", "blob", f"{rev}:{rel}"], self.path)

    def file_at_base(self, rel: str) -> str | None:
        return self.file_at(self.base_sha, rel)

    def exists_at(self, rev: str, rel: str) -> bool:
        return succeeds(["cat-file", "-e", f"{rev}:{rel}"], self.path)

    def archive(self, rev: str) -> bytes:
        """The files of a commit as a tar archive."""
        return git_bytes(["archive", "--format=tar", rev], self.path)

    def restore(self, paths: list[str]) -> None:
        """Put ``paths`` back to their base version (deleting ones the base lacks),
        never following a symlink: a path under a symlinked directory is removed
        with the link."""
        for rel in paths:
            if self.exists_at(self.base_sha, rel):
                git(["checkout", self.base_sha, "--", rel], self.path)
                continue
            target = self.path / rel
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target)
