"""The agent's clone: where the agent works, as its own uid, with the project installed.

Host git runs here only while no agent has: to make the clone, install the
project, apply the visible test patches or a recorded change, and carry a
previous run's change forward. From then on the clone is the agent's, and its
change leaves only as data (``take``: packed inside the sandbox and checked,
``workspace/change.py``). Restoring a recorded state makes a fresh clone.
"""

from __future__ import annotations

import threading
from pathlib import Path

from overnight.config import Bounds
from overnight.environment import Environment, Layer
from overnight.pipeline.carry import Carried, replay
from overnight.sandbox import Completed, Sandbox
from overnight.spec import Spec
from overnight.workspace import Workspace
from overnight.workspace.change import Change, take


class AgentClone:
    def __init__(
        self,
        cache: Path,
        path: Path,
        base_sha: str,
        branch: str,
        env: Environment,
        sandbox: Sandbox,
        bounds: Bounds,
    ) -> None:
        self.cache, self.base_sha, self.branch = cache, base_sha, branch
        self.env, self.sandbox, self.bounds = env, sandbox, bounds
        self.workspace = Workspace.create(cache, path, base_sha, branch)
        self.layer: Layer | None = env.layer(path) if env.path else None
        if self.layer is not None:
            self.layer.create()
        self.origin: tuple[int, int] | None = None  # bytes and files on disk before the agent

    @property
    def path(self) -> Path:
        return self.workspace.path

    @staticmethod
    def layer_path(path: Path) -> Path:
        """Where the virtualenv of the clone at ``path`` lives (the agent may reinstall)."""
        return path.with_name(f"{path.name}.venv")

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return self.env.environ(self.path, extra, self.layer)

    def install(self, timeout: float, cancel: threading.Event | None) -> Completed | None:
        """Install the project from the clone into its virtualenv (None: nothing to install).
        What the install leaves in the clone (a compiled extension, a generated version
        file) is the base's build, not the agent's work: it is excluded from the change."""
        if self.layer is None:
            return None
        done = self.layer.install(self.sandbox, timeout, cancel)
        if done is not None and done.ok:
            self.workspace.exclude_untracked()
        return done

    def apply_patches(self, spec: Spec) -> None:
        for patch in spec.visible_patches:
            self.workspace.apply_patch(patch.text, f"test_patch '{patch.path}'")

    def carry(self, diff: str) -> Carried:
        """Replay a previous run's change on this base: what merged cleanly stays, the
        conflicts are left for the agent (``carry.py``)."""
        return replay(self.workspace, diff)

    def take(self, timeout: float, cancel: threading.Event | None) -> Change:
        """The agent's change, packed inside the sandbox and checked."""
        return take(
            self.sandbox,
            self.path,
            self.base_sha,
            self.environ(),
            self.bounds,
            self.origin,
            timeout,
            cancel,
        )

    def restore(
        self, diff: str, timeout: float, cancel: threading.Event | None
    ) -> Completed | None:
        """A fresh clone as a recorded diff from the base (one overnight made from a
        checked change) left it; the install's result."""
        self.workspace = Workspace.create(self.cache, self.path, self.base_sha, self.branch)
        installed = self.install(timeout, cancel)  # first: what it leaves is not the change
        if diff.strip():
            self.workspace.git(["apply", "--whitespace=nowarn", "--binary", "-"], input=diff + "\n")
        return installed
