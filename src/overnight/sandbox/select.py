"""The sandbox kinds, by name, and picking one by its configured name.

Adding a kind is its module (a ``BaseSandbox`` subclass) and one line in
``SANDBOXES``; ``auto`` is not a kind but the choice of one for this host.
"""

from __future__ import annotations

import os
import shutil
import sys

from overnight.errors import ConfigError
from overnight.registry import Registry
from overnight.sandbox import BaseSandbox, Sandbox
from overnight.sandbox.bwrap import BwrapSandbox
from overnight.sandbox.container import ContainerSandbox
from overnight.sandbox.none import NoSandbox

SANDBOXES: Registry[BaseSandbox] = Registry(
    "sandbox", (BwrapSandbox, ContainerSandbox, NoSandbox), aliases=("auto",)
)
MODEL_ENDPOINT = "OVERNIGHT_MODEL_ENDPOINT"  # HOST:PORT the model socket forwards to


def select_sandbox(name: str, role: str = "grading") -> Sandbox:
    """``auto``: bwrap on Linux when installed, otherwise an error saying what to install.
    ``role`` is ``agent`` for the agent's commands (they run as another uid)."""
    kind, _, arg = name.partition(":")
    if kind == "auto" and not arg:
        name = _auto()
    part, arg = SANDBOXES.get(name)
    return part.build(arg, model_endpoint=os.environ.get(MODEL_ENDPOINT) or None, role=role)


def _auto() -> str:
    if not sys.platform.startswith("linux"):
        raise ConfigError(
            f"sandbox 'auto': bubblewrap needs Linux (this is {sys.platform}); "
            'set sandbox = "container" with docker or podman, or sandbox = "none" '
            "to run unisolated"
        )
    if shutil.which("bwrap") is None:
        raise ConfigError(
            "sandbox 'auto': bubblewrap is not installed; apt-get install bubblewrap "
            'socat (or scripts/system-deps.sh), or set sandbox = "none" explicitly'
        )
    return "bwrap"
