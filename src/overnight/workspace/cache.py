"""The user's repository seen from overnight: resolving it, a bare cache of it,
reading files at a commit, and publishing a delivered branch into it.

The user's repository is only read (fetch) and written by ``push_branch``;
its checkout is never touched. Talking to it is the one place host git reads
the worker owner's configuration (``user_config=True``), for credentials.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from overnight.errors import GitError, WorkspaceError
from overnight.workspace.git import git, git_bytes, succeeds

_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|[^/\s]+@[^/\s]+:)", re.IGNORECASE)
SCHEMES = {"file", "http", "https", "ssh", "git", "git+ssh", "ssh+git"}


def is_url(repo: str) -> bool:
    return bool(_URL.match(repo))


def repo_problem(repo: str) -> str | None:
    """What is wrong with how ``repo`` is written (before any git runs), or None."""
    if repo.startswith("-"):
        return f"repository '{repo}' starts with '-': write a path as ./{repo}, or give a URL"
    if not is_url(repo):
        return None
    scheme = repo.split("://", 1)[0].lower() if "://" in repo else "ssh"
    if scheme not in SCHEMES:
        return (
            f"repository '{repo}' has an unknown URL scheme '{scheme}': give a path, or a "
            "file://, https://, ssh:// or git:// URL, or user@host:path"
        )
    host = urlsplit(repo).netloc if scheme == "file" else ""
    if host not in ("", "localhost"):
        return (
            f"repository '{repo}' names host '{host}': a file:// URL is local "
            "(file:///path/to/repo); use ssh:// for another machine"
        )
    return None


def resolve_repo(repo: str | None, relative_to: Path, cwd: Path | None = None) -> str:
    """The repository a spec names, as an absolute location: a URL as given, or a
    local toplevel, a relative path taken from ``relative_to`` (the spec's folder).
    Without ``repo``: the repository ``cwd`` (default ``relative_to``) is in. A
    local one (a ``file://`` URL too) must be a git repository now. ``spec lint``
    and ``submit`` both resolve a spec's repository here."""
    problem = repo_problem(repo) if repo else None
    if problem:
        raise WorkspaceError(problem)
    if repo and is_url(repo):
        if repo.lower().startswith("file://"):
            local_toplevel(Path(unquote(urlsplit(repo).path)))
        return repo
    if repo:
        return local_toplevel((relative_to / repo).expanduser().resolve())
    here = (cwd or relative_to).resolve()
    try:
        return local_toplevel(here)
    except WorkspaceError as exc:
        raise WorkspaceError(
            f"{here} is not in a git repository and the spec has no 'repo': run this "
            "from inside your repository, or add 'repo: PATH' to the spec"
        ) from exc


def local_toplevel(path: Path) -> str:
    """The repository at ``path`` (a bare one, or a checkout's toplevel)."""
    if not path.exists():
        raise WorkspaceError(f"repository {path} does not exist: fix 'repo' in the spec")
    if not path.is_dir():
        raise WorkspaceError(
            f"{path} is a file, not a git repository: point 'repo' at the repository's folder"
        )
    try:
        if git(["rev-parse", "--is-bare-repository"], path, user_config=True) == "true":
            return str(path)
        return git(["rev-parse", "--show-toplevel"], path, user_config=True)
    except GitError as exc:
        raise WorkspaceError(
            f"{path} is not a git repository: run 'git init' there or point 'repo' at one"
        ) from exc


def dirty_files(repo: str) -> list[str]:
    """Uncommitted changes in a local checkout (they are not part of a task)."""
    if is_url(repo) or git(["rev-parse", "--is-bare-repository"], repo) == "true":
        return []
    status = git(["status", "--porcelain"], repo, user_config=True)
    return [line[3:] for line in status.splitlines() if line]


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
                and succeeds(["cat-file", "-e", f"{need}^{{commit}}"], path)
            ):
                return path
            if not (path / "HEAD").exists():
                shutil.rmtree(path, ignore_errors=True)
                try:
                    git(["clone", "--bare", "--quiet", repo, str(path)], user_config=True)
                except GitError as exc:
                    raise WorkspaceError(f"cannot clone {repo}: {exc}") from exc
            try:
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
                    user_config=True,
                )
            except GitError as exc:
                raise WorkspaceError(f"cannot fetch {repo}: {exc}") from exc
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


def known_head(repo: str, ref: str, cache: Path) -> str | None:
    """The commit ``ref`` names in ``repo`` as known without fetching: read from a local
    repository, else from its ``cache`` as the last fetch left it (None: not known)."""
    where = cache if is_url(repo) else Path(repo)
    if not where.is_dir():
        return None
    return (
        git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], where, check=False) or None
    )


def default_branch(repo: str, cache: Path) -> str:
    """The checked-out branch of a local repository, else the remote's HEAD."""
    if not is_url(repo):
        branch = git(
            ["symbolic-ref", "--quiet", "--short", "HEAD"], repo, check=False, user_config=True
        )
        if branch:
            return branch
    head = git(["symbolic-ref", "--quiet", "--short", "HEAD"], cache, check=False)
    if not head:
        raise WorkspaceError(f"{repo} has no default branch: set 'base' in the spec")
    return head


def read_files(cache: Path, sha: str, names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Contents of the named top-level files at ``sha`` (absent ones left out)."""
    listing = set(git(["ls-tree", "--name-only", sha], cache).splitlines())
    return {name: git(["show", f"{sha}:{name}"], cache) for name in names if name in listing}


def files_at(repo: Path, sha: str, paths: list[str], limit: int = 256_000) -> dict[str, str]:
    """The regular files at ``sha`` that each of ``paths`` names (a file, or a folder
    and everything under it), by path; symlinks, submodules and files over ``limit``
    bytes are left out, as are paths with nothing there. Read from git's objects,
    never from a working tree, so edits after that commit change nothing."""
    if not paths:
        return {}
    listing = git(["ls-tree", "-r", "-z", "-l", sha, "--", *paths], repo)
    found = {}
    for entry in listing.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, blob, size = meta.split()
        if kind == "blob" and mode in ("100644", "100755") and int(size) <= limit:
            found[path] = git_bytes(["cat-file", "blob", blob], repo).decode("utf-8", "replace")
    return found


def tags_reaching(cache: Path, sha: str) -> list[str]:
    """The tags whose commits are ancestors of ``sha`` (what ``git describe`` sees in
    the user's checkout): a clone that has them computes the same version."""
    out = git(["tag", "--merged", sha, "--format=%(refname)"], cache, check=False)
    return [line for line in out.splitlines() if line.startswith("refs/tags/")]


def push_branch(workspace: Path, repo: str, sha: str, branch: str) -> bool:
    """Publish the delivered commit as ``branch`` in the user's repository;
    False if it was already there (a resumed delivery pushes nothing twice)."""
    current = git(["ls-remote", repo, f"refs/heads/{branch}"], workspace, user_config=True).split(
        "\t"
    )[0]
    if current == sha:
        return False
    git(
        ["push", "--quiet", "--force", repo, f"{sha}:refs/heads/{branch}"],
        workspace,
        user_config=True,
    )
    return True
