"""Picking a backend by its configured name."""

from __future__ import annotations

import os
import shutil
import sys

from overnight.errors import ConfigError
from overnight.sandbox import Sandbox

NAMES = ("auto", "bwrap", "container", "none")
MODEL_ENDPOINT = "OVERNIGHT_MODEL_ENDPOINT"  # HOST:PORT the model socket forwards to


def select_sandbox(name: str, role: str = "grading") -> Sandbox:
    """``auto``: bwrap on Linux when installed, otherwise an error saying what to install.
    ``role`` is ``agent`` for the agent's commands (they run as another uid)."""
    kind, _, arg = name.partition(":")
    endpoint = os.environ.get(MODEL_ENDPOINT) or None
    if kind == "none" and not arg:
        from overnight.sandbox.none import NoSandbox

        return NoSandbox()
    if kind == "auto" and not arg:
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
        kind = "bwrap"
    if kind == "bwrap" and not arg:
        from overnight.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(model_endpoint=endpoint, role=role)
    if kind == "container":
        from overnight.sandbox.container import ContainerSandbox

        return ContainerSandbox(image=arg or None, model_endpoint=endpoint, role=role)
    raise ConfigError(
        f"unknown sandbox '{name}': use 'auto', 'bwrap', 'container[:IMAGE]' or 'none'"
    )
