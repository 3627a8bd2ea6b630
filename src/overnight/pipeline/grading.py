"""The grading clone: where the baseline is measured and candidates are built.

The agent works in its own clone and never sees this one, so hidden
acceptance tests never enter the agent's files or git objects. A candidate is
built from data, never from the agent's files on disk: the agent's change,
packed in the sandbox and checked (``workspace/change.py``), becomes a tree by
``git fast-import``; the protected acceptance test files are taken from the
base with the test patches applied; one commit on top of the base holds it,
and git checks it out. That commit is what the gates grade and the forge
delivers. The clone's git dir sits beside its tree (``<clone>.git``), so
nothing a graded command writes into the tree is ever read as git's.
"""

from __future__ import annotations

import calendar
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from overnight.environment import Layer
from overnight.errors import GitError
from overnight.gates.integrity import pytest_config
from overnight.gates.pytest_run import Pinned
from overnight.gates.scope import acceptance_files
from overnight.pipeline.carry import leftover_markers
from overnight.sandbox import Completed, Sandbox
from overnight.spec import Spec, TestPatch
from overnight.workspace import Workspace
from overnight.workspace.change import Change, fast_import_stream

CHANGE_REF = "refs/overnight/change"
# where pytest looks for its configuration at the repository root, in its order
PYTEST_CONFIGS = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
NOT_PACKAGES = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "scripts"}
IDENTITY = {
    "GIT_AUTHOR_NAME": "overnight",
    "GIT_AUTHOR_EMAIL": "overnight@localhost",
    "GIT_COMMITTER_NAME": "overnight",
    "GIT_COMMITTER_EMAIL": "overnight@localhost",
}


class GradingClone:
    def __init__(self, workspace: Workspace, spec: Spec) -> None:
        self.workspace, self.spec = workspace, spec
        self.path = workspace.path
        self._patched: str | None = None
        self.layer: Layer | None = None  # the virtualenv the project is installed into

    def install(
        self, sandbox: Sandbox, timeout: float, cancel: threading.Event | None
    ) -> Completed | None:
        """Install the project from the clone as it is now, into a fresh virtualenv (None:
        nothing to install): what the tests run is this commit's own build."""
        if self.layer is None:
            return None
        self.layer.create()
        return self.layer.install(sandbox, timeout, cancel)

    def patched_tree(self) -> str:
        """The base's tree with every test patch applied (built in a private index;
        a patch that does not apply is a ``WorkspaceError`` naming it)."""
        if self._patched is None:
            self._patched = self._with_patches(self.spec.test_patches)
        return self._patched

    def visible_tree(self) -> str:
        """The base's tree with the visible test patches: where every agent starts, so
        what differs from it is what the agent's work (a carried one included) changed."""
        return self._with_patches(self.spec.visible_patches)

    def _with_patches(self, patches: list[TestPatch]) -> str:
        with self._index() as env:
            self.workspace.git(["read-tree", self.workspace.base_sha], env=env)
            for patch in patches:
                try:
                    self.workspace.git(
                        ["apply", "--cached", "--whitespace=nowarn", "-"], input=patch.text, env=env
                    )
                except GitError:  # the same patch on the tree says why, in a user's words
                    self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")
                    raise
            return self.workspace.git(["write-tree"], env=env)

    def import_change(self, change: Change) -> str:
        """The tree of the base with a checked change applied."""
        stream = fast_import_stream(change, self.workspace.base_sha, CHANGE_REF)
        self.workspace.git_bytes(["fast-import", "--quiet", "--force"], input=stream)
        return self.workspace.git(["rev-parse", f"{CHANGE_REF}^{{tree}}"])

    def changed(self, before: str, after: str) -> list[str]:
        """Paths as they are (-z): git would quote a non-ASCII or odd name, and the
        gates would then read no such file and miss what it holds."""
        out = self.workspace.git(["diff", "--name-only", "-z", "--no-renames", before, after])
        return [name for name in out.split("\0") if name]

    def from_base(self, rev: str) -> str:
        """The diff from the base to a tree or commit."""
        return self.workspace.diff(self.workspace.base_sha, rev)

    def changes(self, sha: str) -> str:
        """A candidate's changes from the patched base: what a later run carries over."""
        return self.workspace.diff(self.patched_tree(), sha)

    def diffstat(self, sha: str) -> str:
        return self.workspace.diffstat(sha)

    def markers_left(self, sha: str) -> list[str]:
        """Files in which a candidate added conflict markers."""
        return leftover_markers(self.workspace, self.patched_tree(), sha)

    def protected_files(self) -> list[str]:
        """Acceptance test files: those the patches touch and those named by node ids."""
        return acceptance_files(self.spec, self.workspace)

    def candidate(self, agent_tree: str, message: str, date: datetime) -> str:
        """The agent's tree with the acceptance tests put back, committed on the base
        and checked out. With a fixed date the same tree always gives the same
        commit, so a resumed run recognises the candidate its recorded gates graded."""
        sha = self._commit(self._with_protected(agent_tree), message, date)
        self.workspace.reset_to(sha)
        return sha

    def check_out_patched(self) -> str:
        """The base with the test patches applied, checked out (for the baseline)."""
        sha = self._commit(
            self.patched_tree(),
            "overnight: the base with its acceptance tests\n",
            datetime(2000, 1, 1),
        )
        self.workspace.reset_to(sha)
        return sha

    def pinned(self) -> Pinned:
        """What steers the test runs, read from the base: pytest's configuration file
        (the first pytest itself would use at the root) and the project's packages."""
        config = None
        for name in PYTEST_CONFIGS:
            text = self.workspace.file_at_base(name)
            if text is not None and (
                name.endswith(("pytest.ini", "pytest.toml"))
                or pytest_config(name, text) is not None
            ):
                config = (name, text)
                break
        return Pinned(config, self.packages())

    def packages(self) -> list[str]:
        """Top-level packages at the base: under ``src/`` when there is one, else at the
        root (folders with an ``__init__.py``, tests and docs left out)."""
        work, base = self.workspace, self.workspace.base_sha
        src = work.exists_at(base, "src") and not work.exists_at(base, "src/__init__.py")
        prefix = "src/" if src else ""
        listing = work.git(
            ["ls-tree", "-d", "--name-only", f"{base}:{prefix}"]
            if prefix
            else ["ls-tree", "-d", "--name-only", base]
        )
        return sorted(
            name
            for name in listing.splitlines()
            if name.isidentifier()
            and name not in NOT_PACKAGES
            and work.exists_at(base, f"{prefix}{name}/__init__.py")
        )

    def reset(self) -> None:
        self.workspace.reset_to(self.workspace.base_sha)

    def _with_protected(self, tree: str) -> str:
        """``tree`` with every protected path as the patched base has it (or absent)."""
        return self.workspace.tree_with(tree, self.patched_tree(), self.protected_files())

    def _commit(self, tree: str, message: str, date: datetime) -> str:
        stamp = f"{calendar.timegm(date.timetuple())} +0000"  # git's raw form
        env = {**IDENTITY, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        return self.workspace.git(
            ["commit-tree", tree, "-p", self.workspace.base_sha, "-F", "-"],
            input=message,
            env=env,
        )

    @contextmanager
    def _index(self) -> Iterator[dict[str, str]]:
        """A private index file for building trees without touching the working tree."""
        where = self.workspace.git_dir or self.path / ".git"
        fd, name = tempfile.mkstemp(prefix="index-", dir=where)
        os.close(fd)
        os.unlink(name)  # git makes it; an empty file is not an index
        try:
            yield {"GIT_INDEX_FILE": name}
        finally:
            for leftover in (name, f"{name}.lock"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
