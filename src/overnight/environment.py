"""Environments: dependencies cached by content, the project installed per clone.

A cached environment (``<cache>/envs/<key>``) is a virtualenv built once per
key (the Python version, the setup commands, the project's ``env`` and its
dependency files): the setup commands run in a checkout of the base beside it
(``<key>.src``), with the network, exactly as in the plain virtualenv a user
would make. What they installed from that checkout (the project itself) is
then taken out again and remembered, and a build environment (``<key>.build``)
gets the project's build requirements, so the environment holds only what the
project depends on.

The code under test is always the clone's own, installed the way the setup
installed it (editable or not, generated version files, entry points and
compiled extensions included): a ``Layer`` is a small virtualenv beside each
clone (``<clone>.venv``) that sees the cached environment's packages and gets
the project installed into it from the clone, offline, inside the sandbox.
A project the setup did not install is made importable with ``PYTHONPATH``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import sys
import sysconfig
import threading
import tomllib
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import DEPENDENCY_FILES, ProjectConfig
from overnight.errors import SetupError
from overnight.sandbox import Access, Completed, Sandbox, base_environ

OWN_BIN = str(Path(sys.executable).parent)  # overnight's own tools (ruff, pytest) come last
SITE = Path(sysconfig.get_path("purelib", vars={"base": ".", "platbase": "."}))  # lib/pythonX.Y/…
DEFAULT_BUILD = ["setuptools>=40.8.0", "wheel"]  # what pip assumes without [build-system]
# the requirements a build backend adds at run time (hatchling's ``editables``, ...)
DYNAMIC_REQUIRES = """
import json, sys, tomllib
from pip._vendor.pyproject_hooks import BuildBackendHookCaller
folder, editable = sys.argv[1], sys.argv[2] == "1"
try:
    with open(folder + "/pyproject.toml", "rb") as f:
        system = tomllib.load(f).get("build-system", {})
except FileNotFoundError:
    system = {}
caller = BuildBackendHookCaller(folder, system.get("build-backend",
                                "setuptools.build_meta:__legacy__"), system.get("backend-path"))
hook = caller.get_requires_for_build_editable if editable else caller.get_requires_for_build_wheel
print(json.dumps(hook()))
"""
# what the setup installed from the checkout: each distribution, its folder, editable or not
FIND_PROJECT = """
import json, sys, importlib.metadata as md
from urllib.parse import urlparse, unquote
root, found = sys.argv[1].rstrip("/"), []
for dist in md.distributions():
    raw = dist.read_text("direct_url.json")
    if not raw:
        continue
    info = json.loads(raw)
    url = urlparse(info.get("url", ""))
    where = unquote(url.path).rstrip("/")
    if url.scheme == "file" and (where == root or where.startswith(root + "/")):
        editable = bool(info.get("dir_info", {}).get("editable"))
        found.append({"name": dist.metadata["Name"], "path": where[len(root):].lstrip("/"),
                      "editable": editable})
print(json.dumps(found))
"""


@dataclass
class Project:
    """A distribution the setup installed from the repository itself."""

    name: str
    path: str  # its folder, relative to the repository root ("" for the root)
    editable: bool


@dataclass
class Environment:
    path: Path | None  # None: the worker's own interpreter ("inherit")
    built: bool = False  # True when this call ran the setup commands
    log: str = ""
    variables: dict[str, str] = field(default_factory=dict)  # the project's ``env``
    project: list[Project] = field(default_factory=list)  # installed per clone, by a Layer
    isolated: bool = True  # the setup built the project in pip's isolated build environment

    @property
    def build(self) -> Path | None:
        """The build environment beside it (the project's build requirements)."""
        return self.path.with_name(f"{self.path.name}.build") if self.path else None

    def access(self) -> Access:
        """What a command using this environment reads besides its own virtualenv."""
        paths = [p for p in (self.path, self.build) if p is not None and p.exists()]
        return Access(readable=tuple(paths))

    def layer(self, clone: Path) -> Layer:
        return Layer(clone.with_name(f"{clone.name}.venv"), self, clone)

    def environ(
        self, workspace: Path, extra: dict[str, str] | None = None, layer: Layer | None = None
    ) -> dict[str, str]:
        """Variables for a command in ``workspace``: with ``layer``, its virtualenv
        (the project installed from the clone); else this environment's, with the
        workspace on ``PYTHONPATH``."""
        env = {**base_environ(), **self.variables}
        installed = layer is not None and layer.installed
        if not installed:
            paths = [workspace / "src", workspace] if (workspace / "src").is_dir() else [workspace]
            env["PYTHONPATH"] = ":".join(str(p) for p in paths)
        prefix = layer.path if layer is not None else self.path
        bins = [str(prefix / "bin")] if prefix else []
        env["PATH"] = ":".join([*bins, OWN_BIN, env["PATH"]])
        if prefix:
            env["VIRTUAL_ENV"] = str(prefix)
        return {**env, **(extra or {})}

    def setup_environ(self) -> dict[str, str]:
        """What setup commands see: the plain virtualenv a user would activate."""
        assert self.path is not None
        env = {**base_environ(), **self.variables, "VIRTUAL_ENV": str(self.path)}
        env["PATH"] = ":".join([str(self.path / "bin"), OWN_BIN, env["PATH"]])
        return env


@dataclass
class Layer:
    """A virtualenv beside a clone on top of a cached environment: the project is
    installed into it from the clone, so what runs is the clone's code, installed
    as a real install would be."""

    path: Path
    env: Environment
    clone: Path
    installed: bool = False

    def create(self) -> None:
        """A fresh virtualenv seeing the cached environment's packages, with its
        console scripts (pytest, ...) running on this interpreter."""
        assert self.env.path is not None
        shutil.rmtree(self.path, ignore_errors=True)
        venv.EnvBuilder(with_pip=False, symlinks=True).create(self.path)
        site = self.path / SITE
        (site / "_overnight_env.pth").write_text(
            f"import site; site.addsitedir({str(self.env.path / SITE)!r})\n"
        )
        python = str(self.path / "bin" / "python")
        for script in sorted((self.env.path / "bin").iterdir()):
            target = self.path / "bin" / script.name
            if target.exists() or target.is_symlink() or not script.is_file():
                continue
            head = script.read_bytes()[:200].split(b"\n", 1)[0]
            if head.startswith(b"#!") and b"python" in head:
                body = script.read_bytes().split(b"\n", 1)[1]
                target.write_bytes(f"#!{python}\n".encode() + body)
                target.chmod(0o755)

    def install(
        self,
        sandbox: Sandbox,
        timeout: float,
        cancel: threading.Event | None = None,
        extra: Access | None = None,
    ) -> Completed | None:
        """Install the project from the clone into this layer, offline, in the sandbox;
        None when the setup installs no project (it is imported from the clone)."""
        self.installed = False
        if not self.env.project:
            return None
        build = self.env.build
        site = self.path / SITE
        env = self.env.environ(self.clone, layer=self)
        env.pop("PYTHONPATH", None)
        env.update(PIP_NO_INDEX="1", PIP_NO_INPUT="1")
        if build is not None and build.exists():
            if self.env.isolated:  # as pip's isolated build: the build requirements first
                env["PYTHONPATH"] = str(build / SITE)
            else:  # the setup built with the environment's own packages: they come first
                (site / "zz_overnight_build.pth").write_text(
                    f"import site; site.addsitedir({str(build / SITE)!r})\n"
                )
        try:
            command = " && ".join(_install_command(p) for p in self.env.project)
            granted = extra or Access()
            done = sandbox.run(
                command,
                cwd=self.clone,
                env=env,
                timeout=timeout,
                cancel=cancel,
                access=Access(
                    writable=(self.path, *granted.writable),
                    readable=(*self.env.access().readable, *granted.readable),
                ),
            )
        finally:
            (site / "zz_overnight_build.pth").unlink(missing_ok=True)
        self.installed = done.ok
        return done


def _install_command(project: Project) -> str:
    target = f"./{project.path}" if project.path else "."
    editable = "-e " if project.editable else ""
    return (
        f"python -m pip install --no-deps --no-build-isolation --no-index --use-pep517 "
        f"--quiet {editable}{target}"
    )


def environment_key(config: ProjectConfig, files: dict[str, str]) -> str:
    material = {
        "python": sys.version,
        "setup": config.setup,
        "env": config.env,
        "files": {name: files[name] for name in DEPENDENCY_FILES if name in files},
        "layout": 3,  # the project taken out of the environment, installed per clone
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
    """Return the cached environment for these dependencies, building it if needed."""
    path = root / environment_key(config, files)
    root.mkdir(parents=True, exist_ok=True)
    ready = path / ".overnight-ready"
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            recorded = json.loads(ready.read_text())
            return Environment(
                path,
                variables=config.env,
                project=[Project(**p) for p in recorded.get("project", [])],
            )
        for stale in (path, path.with_name(f"{path.name}.build")):
            shutil.rmtree(stale, ignore_errors=True)
        source = path.with_name(f"{path.name}.src")
        checkout(source)
        venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
        env = Environment(path, built=True, variables=config.env, isolated=isolated_build(config))
        try:
            for cmd in config.setup:
                _run(sandbox, cmd, source, env, timeout, network=True)
            env.project = _take_project_out(sandbox, source, env, timeout)
            if env.project:
                _build_environment(sandbox, source, env, timeout)
        except SetupError:
            for partial in (path, path.with_name(f"{path.name}.build")):
                shutil.rmtree(partial, ignore_errors=True)
            raise
        ready.write_text(
            json.dumps({"setup": config.setup, "project": [p.__dict__ for p in env.project]})
        )
        return env


def isolated_build(config: ProjectConfig) -> bool:
    """Whether the setup builds the project the way pip does by default, in an isolated
    build environment (else with the environment's own packages, which then win)."""
    flags = ("--no-build-isolation", "PIP_NO_BUILD_ISOLATION")
    return (
        not any(f in cmd for cmd in config.setup for f in flags)
        and "PIP_NO_BUILD_ISOLATION" not in config.env
    )


def _take_project_out(
    sandbox: Sandbox, source: Path, env: Environment, timeout: float
) -> list[Project]:
    """Find what the setup installed from the checkout, and uninstall it."""
    finder = source.with_name(f"{source.name}-find.py")
    finder.write_text(FIND_PROJECT)
    try:
        done = _run(
            sandbox,
            f"python {finder} {source}",
            source,
            env,
            timeout,
            readable=(finder,),
            quiet=True,
        )
    finally:
        finder.unlink(missing_ok=True)
    project = [Project(**p) for p in json.loads(done.output.strip().splitlines()[-1])]
    if project:
        names = " ".join(p.name for p in project)
        _run(sandbox, f"python -m pip uninstall --yes --quiet {names}", source, env, timeout)
    return project


def _build_environment(sandbox: Sandbox, source: Path, env: Environment, timeout: float) -> None:
    """A virtualenv beside the environment with the project's build requirements."""
    assert env.build is not None
    requires: list[str] = []
    for project in env.project:
        requires += build_requirements(source / project.path)
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env.build)
    python = env.build / "bin" / "python"
    listed = " ".join(_quote(r) for r in dict.fromkeys(requires))
    _run(
        sandbox,
        f"{python} -m pip install --quiet --upgrade {listed}",
        source,
        env,
        timeout,
        network=True,
        writable=(env.build,),
    )
    script = source.with_name(f"{source.name}-requires.py")
    script.write_text(DYNAMIC_REQUIRES)
    dynamic: list[str] = []
    try:
        for project in env.project:
            done = _run(
                sandbox,
                f"{python} {script} ./{project.path} {int(project.editable)}",
                source,
                env,
                timeout,
                readable=(script,),
                quiet=True,
            )
            dynamic += json.loads(done.output.strip().splitlines()[-1])
    finally:
        script.unlink(missing_ok=True)
    if dynamic:
        listed = " ".join(_quote(r) for r in dict.fromkeys(dynamic))
        _run(
            sandbox,
            f"{python} -m pip install --quiet {listed}",
            source,
            env,
            timeout,
            network=True,
            writable=(env.build,),
        )


def build_requirements(folder: Path) -> list[str]:
    """``[build-system] requires`` of a project folder (pip's default without one)."""
    pyproject = folder / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text()) if pyproject.is_file() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return list(DEFAULT_BUILD)
    requires = data.get("build-system", {}).get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        return list(DEFAULT_BUILD)
    return requires


def _quote(requirement: str) -> str:
    return "'" + requirement.replace("'", "'\\''") + "'"


def _run(
    sandbox: Sandbox,
    cmd: str,
    workspace: Path,
    env: Environment,
    timeout: float,
    *,
    network: bool = False,
    readable: tuple[Path, ...] = (),
    writable: tuple[Path, ...] = (),
    quiet: bool = False,
) -> Completed:
    assert env.path is not None
    done = sandbox.run(
        cmd,
        cwd=workspace,
        env=env.setup_environ(),
        timeout=timeout,
        access=Access(writable=(env.path, *writable), readable=readable, network=network),
    )
    shown = "" if quiet and done.ok else f"{done.output}\n"
    env.log += f"$ {cmd}\n{shown}[exit {done.exit_code}, {done.duration:.1f} s]\n"
    if not done.ok:
        raise SetupError(
            f"setup command failed (exit {done.exit_code}): {cmd}; "
            "see 'overnight logs ID' and fix 'setup'",
            env.log,
        )
    return done
