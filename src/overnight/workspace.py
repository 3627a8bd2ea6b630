"""Git: repository caches, per-task clones, commits, diffs and pushes.

Every git call goes through ``git()``, which turns a failed command into a
``GitError`` carrying git's own message. The user's repository is only read
here (fetch) and written by ``push_branch``; its checkout is never touched.
"""

from __future__ import annotations

import calendar
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from overnight.errors import GitError, WorkspaceError

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
_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[^/\s]+@[^/\s]+:)", re.IGNORECASE)


def git(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run git; return stdout (stripped of the final newline) or raise GitError."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    # a sandbox may hand the workspace to its task uid: trust that one directory only
    trust = ["-c", f"safe.directory={Path(cwd).resolve()}"] if cwd is not None else []
    proc = subprocess.run(
        ["git", *trust, *args], cwd=cwd, input=input, text=True, env=full_env, capture_output=True
    )
    if check and proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        detail = message[-1] if message else f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
    return proc.stdout.rstrip("\n")


def is_url(repo: str) -> bool:
    return bool(_URL.match(repo))


def resolve_repo(repo: str | None, relative_to: Path) -> str:
    """An absolute repository location: a URL as given, or a local toplevel."""
    if repo and is_url(repo):
        return repo
    path = (relative_to / (repo or ".")).expanduser().resolve()
    if not path.exists():
        raise WorkspaceError(f"repository {path} does not exist: fix 'repo' in the spec")
    try:
        if git(["rev-parse", "--is-bare-repository"], path) == "true":
            return str(path)
        return git(["rev-parse", "--show-toplevel"], path)
    except GitError as exc:
        raise WorkspaceError(
            f"{path} is not a git repository: run 'git init' there or point 'repo' at one"
        ) from exc


def dirty_files(repo: str) -> list[str]:
    """Uncommitted changes in a local checkout (they are not part of a task)."""
    if is_url(repo) or git(["rev-parse", "--is-bare-repository"], repo) == "true":
        return []
    return [line[3:] for line in git(["status", "--porcelain"], repo).splitlines() if line]


class RepoCache:
    """A bare mirror per repository under ``root``, fetched under a file lock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, repo: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9]+", "-", repo).strip("-")[-40:]
        return self.root / f"{name}-{hashlib.sha256(repo.encode()).hexdigest()[:12]}.git"

    @contextmanager
    def locked(self, repo: str) -> Iterator[Path]:
        path = self.path(repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield path

    def fetch(self, repo: str, need: str | None = None) -> Path:
        """The cache, updated from ``repo`` (skipped when it already has ``need``)."""
        with self.locked(repo) as path:
            if (
                need
                and (path / "HEAD").exists()
                and subprocess.run(
                    ["git", "cat-file", "-e", f"{need}^{{commit}}"], cwd=path, capture_output=True
                ).returncode
                == 0
            ):
                return path
            if not (path / "HEAD").exists():
                shutil.rmtree(path, ignore_errors=True)
                try:
                    git(["clone", "--bare", "--quiet", repo, str(path)])
                except GitError as exc:
                    raise WorkspaceError(f"cannot clone {repo}: {exc}") from exc
            git(
                [
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--force",
                    repo,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                path,
            )
            return path

    def resolve(self, repo: str, ref: str | None) -> tuple[str, str]:
        """(ref name, commit sha) for ``ref`` or the repository's default branch."""
        path = self.fetch(repo)
        if ref is None:
            ref = default_branch(repo, path)
        sha = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], path, check=False)
        if not sha:
            raise WorkspaceError(
                f"unknown base '{ref}' in {repo}: name a branch, tag or commit that exists there"
            )
        return ref, sha


def default_branch(repo: str, cache: Path) -> str:
    """The checked-out branch of a local repository, else the remote's HEAD."""
    if not is_url(repo):
        branch = git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo, check=False)
        if branch:
            return branch
    head = git(["symbolic-ref", "--quiet", "--short", "HEAD"], cache, check=False)
    if not head:
        raise WorkspaceError(f"{repo} has no default branch: set 'base' in the spec")
    return head


@dataclass
class Workspace:
    """A disposable clone of one task, at its base commit, on its branch."""

    path: Path
    base_sha: str
    branch: str

    @classmethod
    def create(cls, cache: Path, path: Path, base_sha: str, branch: str) -> Workspace:
        """A fresh repository holding only the base commit and its history: no
        other branches, and nothing a later commit or another task added. A
        previous clone at ``path`` (a run resumed after a crash) is moved aside
        first, so processes it left behind cannot touch the new one."""
        if path.exists():
            stale = path.with_name(f"{path.name}.stale-{os.getpid()}-{time.monotonic_ns()}")
            path.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        git(["init", "--quiet", str(path)])
        git(["fetch", "--quiet", "--no-tags", str(cache), base_sha], path)
        git(["checkout", "--quiet", "-B", branch, base_sha], path)
        (path / ".git" / "info").mkdir(parents=True, exist_ok=True)
        (path / ".git" / "info" / "exclude").write_text("\n".join(IGNORED) + "\n")
        return cls(path, base_sha, branch)

    def apply_patch(self, text: str, name: str) -> None:
        proc = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            cwd=self.path,
            input=text,
            text=True,
            capture_output=True,
        )
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["no reason given"])[0]
            raise WorkspaceError(
                f"{name} does not apply at base {self.base_sha[:10]} ({reason}):"
                " regenerate it against that commit"
            )

    def restore(self, paths: list[str]) -> None:
        """Put ``paths`` back to their base version (deleting ones the base lacks)."""
        for rel in paths:
            target = self.path / rel
            if self._exists_at_base(rel):
                git(["checkout", self.base_sha, "--", rel], self.path)
            elif target.exists() or target.is_symlink():
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()

    def _exists_at_base(self, rel: str) -> bool:
        proc = subprocess.run(
            ["git", "cat-file", "-e", f"{self.base_sha}:{rel}"], cwd=self.path, capture_output=True
        )
        return proc.returncode == 0

    def changed_files(self) -> list[str]:
        """Files that differ from the base in the working tree, untracked included."""
        git(["add", "--all"], self.path)
        out = git(["diff", "--cached", "--name-only", "--no-renames", self.base_sha], self.path)
        return [line for line in out.splitlines() if line]

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
        git(["clean", "-q", "-fdx", "-e", ".venv"], self.path)

    def diffstat(self, sha: str) -> str:
        return git(["diff", "--stat", self.base_sha, sha], self.path)

    def file_at_base(self, rel: str) -> str | None:
        proc = subprocess.run(
            ["git", "show", f"{self.base_sha}:{rel}"], cwd=self.path, capture_output=True, text=True
        )
        return proc.stdout if proc.returncode == 0 else None


def read_files(cache: Path, sha: str, names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Contents of the named top-level files at ``sha`` (absent ones left out)."""
    listing = set(git(["ls-tree", "--name-only", sha], cache).splitlines())
    return {name: git(["show", f"{sha}:{name}"], cache) for name in names if name in listing}


def push_branch(workspace: Path, repo: str, sha: str, branch: str) -> bool:
    """Publish the delivered commit as ``branch`` in the user's repository;
    False if it was already there (a resumed delivery pushes nothing twice)."""
    current = git(["ls-remote", repo, f"refs/heads/{branch}"], workspace).split("\t")[0]
    if current == sha:
        return False
    git(["push", "--quiet", "--force", repo, f"{sha}:refs/heads/{branch}"], workspace)
    return True
