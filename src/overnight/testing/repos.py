"""Real git repositories for tests, built from a mapping of path to content."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from overnight.pipeline import Paths
from overnight.store import Store
from overnight.worker import Worker
from overnight.workspace import git

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def make_repo(path: Path, files: Mapping[str, str | bytes], branch: str = "main") -> Path:
    """A git repository at ``path`` with ``files`` committed on ``branch``."""
    path.mkdir(parents=True, exist_ok=True)
    git(["init", "-q", "-b", branch, str(path)])
    write_files(path, files)
    commit_all(path, "initial commit")
    return path


def write_files(path: Path, files: Mapping[str, str | bytes]) -> None:
    """Text is written as UTF-8; bytes as they are (a file in another encoding)."""
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def commit_all(path: Path, message: str) -> str:
    git(["add", "-A"], path)
    git([*IDENTITY, "commit", "-q", "--allow-empty", "-m", message], path)
    return git(["rev-parse", "HEAD"], path)


def run_until_idle(
    store: Store, *, slots: int = 1, paths: Paths | None = None, lease: float = 10.0
) -> int:
    """Run a worker in this process until the queue is empty; return tasks done."""
    return Worker(store, slots=slots, paths=paths, lease=lease, poll=0.05).run(drain=True)
