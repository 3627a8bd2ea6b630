"""What the model is shown of a repository: its base commit, read from git's objects.

The base is the head of the repository's checked-out branch (a local
repository) or its default branch, fetched into overnight's cache as ``submit``
does. The tree, the coding standards and every file the model asks to read
come from that commit's objects, never from a working tree, so uncommitted
edits are not planned on. Reads are bounded: per file and per round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overnight.agents.standards import Convention, standards_at
from overnight.config import ProjectConfig, cache_dir
from overnight.errors import UsageError, WorkspaceError
from overnight.intake import load_config
from overnight.text import trim
from overnight.workspace import RepoCache, files_at, git, resolve_repo

TREE_ENTRIES = 500  # paths of the tree shown to the model


@dataclass
class ReadLimits:
    """How much the model may read before it answers: rounds of reads, and bytes."""

    rounds: int = 3
    round_bytes: int = 60_000
    file_bytes: int = 16_000


@dataclass
class Base:
    repo: str  # as submit resolves it: a local path or a URL
    ref: str  # the branch the specs are for
    sha: str  # the commit the tests are proven at
    cache: Path  # the repository's bare mirror
    config: ProjectConfig

    @classmethod
    def resolve(cls, repo: str | None, cwd: Path) -> Base:
        """The base of ``repo`` (default: the repository ``cwd`` is in)."""
        try:
            where = resolve_repo(repo, cwd, cwd)
            cache = RepoCache(cache_dir() / "repos")
            ref, sha = cache.resolve(where, None)
        except WorkspaceError as exc:
            raise UsageError(str(exc)) from exc
        path = cache.path(where)
        return cls(where, ref, sha, path, load_config(path, sha))

    def tree(self) -> list[str]:
        """The paths of the files at the base, the first ``TREE_ENTRIES`` of them."""
        listing = git(["ls-tree", "-r", "--name-only", "-z", self.sha], self.cache)
        paths = [p for p in listing.split("\0") if p]
        if len(paths) > TREE_ENTRIES:
            rest = len(paths) - TREE_ENTRIES
            paths = [*paths[:TREE_ENTRIES], f"... and {rest} more (ask to read a folder)"]
        return paths

    def standards(self) -> list[Convention]:
        return standards_at(self.cache, self.sha, self.config.standard_files())

    def read(self, paths: list[str], limits: ReadLimits) -> dict[str, str]:
        """Each path (a file, or a folder's files) with its text at the base, each cut to
        ``file_bytes``, all to ``round_bytes``; a path with nothing there says so."""
        shown: dict[str, str] = {}
        left = limits.round_bytes
        for path in paths:
            found = files_at(self.cache, self.sha, [path.rstrip("/")])
            if not found:
                shown[path] = "(no such file at the base)"
            for name, text in found.items():
                if left <= 0:
                    shown[name] = "(not shown: this round's reading limit is used up)"
                    continue
                cut = trim(text, min(limits.file_bytes, left))
                shown[name] = cut
                left -= len(cut)
        return shown
