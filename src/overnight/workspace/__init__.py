"""Git for overnight: the seam (``git.py``), the user's repository and its
cache (``cache.py``), and per-task clones (``clone.py``)."""

from overnight.workspace.cache import (
    RepoCache,
    default_branch,
    dirty_files,
    files_at,
    is_url,
    known_head,
    push_branch,
    read_files,
    repo_problem,
    resolve_repo,
    tags_reaching,
)
from overnight.workspace.clone import IDENTITY, IGNORED, Workspace
from overnight.workspace.git import git, git_bytes, succeeds

__all__ = [
    "IDENTITY",
    "IGNORED",
    "RepoCache",
    "Workspace",
    "default_branch",
    "dirty_files",
    "files_at",
    "git",
    "git_bytes",
    "is_url",
    "known_head",
    "push_branch",
    "read_files",
    "repo_problem",
    "resolve_repo",
    "succeeds",
    "tags_reaching",
]
