"""Cached environments: the setup commands run once per environment key.

The key is a hash of the Python version, the setup commands and the contents
of the dependency files, so the second task on a repository (or on another
repository with the same dependencies) reuses the virtualenv. The project
under test is made importable per workspace with PYTHONPATH, which wins over
any editable install made when the environment was built.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import DEPENDENCY_FILES, ProjectConfig
from overnight.errors import SetupError
from overnight.sandbox import Access, Sandbox, base_environ

OWN_BIN = str(Path(sys.executable).parent)  # overnight's own tools (ruff, pytest) come last


@dataclass
class Environment:
    path: Path | None  # None: the worker's own interpreter ("inherit")
    built: bool = False  # True when this call ran the setup commands
    log: str = ""
    variables: dict[str, str] = field(default_factory=dict)  # the project's ``env``

    def environ(self, workspace: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**base_environ(), **self.variables}
        paths = (
            [str(workspace / "src"), str(workspace)]
            if (workspace / "src").is_dir()
            else [str(workspace)]
        )
        env["PYTHONPATH"] = ":".join(paths)
        bins = [str(self.path / "bin")] if self.path else []
        env["PATH"] = ":".join([*bins, OWN_BIN, env["PATH"]])
        if self.path:
            env["VIRTUAL_ENV"] = str(self.path)
        return {**env, **(extra or {})}


def environment_key(config: ProjectConfig, files: dict[str, str]) -> str:
    material = {
        "python": sys.version,
        "setup": config.setup,
        "env": config.env,
        "files": {name: files[name] for name in DEPENDENCY_FILES if name in files},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def ensure_environment(
    config: ProjectConfig,
    files: dict[str, str],
    root: Path,
    checkout: Callable[[Path], None],
    sandbox: Sandbox,
    timeout: float,
) -> Environment:
    """Return the cached environment for these dependencies, building it if needed.

    The setup commands run in a checkout of the base made by ``checkout`` and
    kept beside the environment (an editable install points at it), so task
    workspaces never see the files that setup leaves behind.
    """
    path = root / environment_key(config, files)
    root.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / ".overnight-ready").exists():
            return Environment(path, variables=config.env)
        shutil.rmtree(path, ignore_errors=True)
        source = path.with_name(f"{path.name}.src")
        checkout(source)
        venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
        env = Environment(path, built=True, variables=config.env)
        try:
            for cmd in config.setup:
                _run_setup(sandbox, cmd, source, env, timeout)
        except SetupError:
            shutil.rmtree(path, ignore_errors=True)
            raise
        (path / ".overnight-ready").write_text(json.dumps({"setup": config.setup}))
        return env


def _run_setup(
    sandbox: Sandbox, cmd: str, workspace: Path, env: Environment, timeout: float
) -> None:
    assert env.path is not None
    done = sandbox.run(
        cmd,
        cwd=workspace,
        env=env.environ(workspace),
        timeout=timeout,
        access=Access(writable=(env.path,), network=True),  # installs into the environment
    )
    env.log += f"$ {cmd}\n{done.output}\n[exit {done.exit_code}, {done.duration:.1f} s]\n"
    if not done.ok:
        raise SetupError(
            f"setup command failed (exit {done.exit_code}): {cmd}; "
            "see 'overnight logs ID' and fix 'setup'",
            env.log,
        )
