"""The grading clone: where the baseline is measured and candidates are built.

The agent works in its own clone and never sees this one, so hidden
acceptance tests never enter the agent's files or git objects. A candidate
is the agent's working tree, staged from outside (``--work-tree``), with the
protected test files restored to the base and every test patch re-applied,
committed as one commit on top of the base: the exact commit the gates grade
and the forge delivers.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from overnight.spec import Spec
from overnight.spec.model import patched_files
from overnight.workspace import Workspace, git


class GradingClone:
    def __init__(self, workspace: Workspace, spec: Spec) -> None:
        self.workspace, self.spec = workspace, spec
        self.path = workspace.path

    def apply_patches(self) -> None:
        for patch in self.spec.test_patches:
            self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")

    def tree(self, work_tree: Path | None = None) -> str:
        """The tree of ``work_tree`` (default: this clone) as it is on disk."""
        outside = ["--work-tree", str(work_tree)] if work_tree else []
        git([*outside, "add", "--all"], self.path)
        return git(["write-tree"], self.path)

    def changed(self, before: str, after: str) -> list[str]:
        """Paths as they are (-z): git would quote a non-ASCII or odd name, and the
        gates would then read no such file and miss what it holds."""
        out = git(["diff", "--name-only", "-z", "--no-renames", before, after], self.path)
        return [name for name in out.split("\0") if name]

    def protected_files(self) -> list[str]:
        """Acceptance test files: those the patches touch and those named by node ids."""
        files = {f for p in self.spec.test_patches for f in patched_files(p.text)}
        for node in self.spec.acceptance_tests:
            path = node.split("::", 1)[0]
            if self.workspace.file_at_base(path) is not None:
                files.add(path)
        return sorted(files)

    def candidate(self, agent_tree: str, message: str, date: datetime) -> str:
        """Check out the agent's tree, put the acceptance tests back, commit.
        With a fixed date the same tree always gives the same commit, so a
        resumed run recognises the candidate its recorded gates graded."""
        self.checkout(agent_tree)
        self.workspace.restore(self.protected_files())
        self.apply_patches()
        return self.workspace.commit(message, date)

    def checkout(self, tree: str) -> None:
        base = self.workspace.base_sha
        commit = git(
            ["commit-tree", tree, "-p", base, "-m", "overnight: candidate tree"],
            self.path,
            env=_IDENTITY,
        )
        self.workspace.reset_to(commit)

    def reset(self) -> None:
        self.workspace.reset_to(self.workspace.base_sha)


_IDENTITY = {
    "GIT_AUTHOR_NAME": "overnight",
    "GIT_AUTHOR_EMAIL": "overnight@localhost",
    "GIT_COMMITTER_NAME": "overnight",
    "GIT_COMMITTER_EMAIL": "overnight@localhost",
}
