"""The one seam through which overnight runs git on the host.

Every host-side git call goes through ``git()`` (text) or ``git_bytes()``
(binary). Both run git with nothing in a repository able to run code or
change what git does:

- hooks, fsmonitor and the untracked cache are switched off, replace refs
  are ignored, and no pager, editor, askpass or credential prompt can start;
- no configuration file is read but the repository's own (``GIT_CONFIG_NOSYSTEM``,
  ``GIT_CONFIG_GLOBAL=/dev/null``), and the settings above are given on the
  command line, which wins over it; with ``user_config=True`` (fetching from
  and pushing to the user's repository, which may need credentials) the
  worker owner's global and system configuration is read as well;
- no ``GIT_*`` variable of the worker's own environment leaks in;
- ``safe.directory`` trusts exactly the directory git runs in, because a
  sandbox hands workspaces to task uids.

The repositories overnight runs git in are its own (the repository cache, the
grading clone, a fresh agent clone before the agent runs): nothing the agent
or the code under test writes is ever read by host git as configuration.
A failed command raises ``GitError`` with git's own last line (the first, for
clone and fetch, whose last lines are advice).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from overnight.errors import GitError

GIT = shutil.which("git") or "git"
# given on the command line: they win over every configuration file
LOCKED = [
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.attributesFile=/dev/null",
    "core.pager=cat",
    "protocol.ext.allow=never",
    "protocol.file.allow=always",
    "submodule.recurse=false",
    "advice.detachedHead=false",
    "init.defaultBranch=main",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "gc.auto=0",
    "maintenance.auto=false",
]
ISOLATED = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ATTR_NOSYSTEM": "1",
}


def environ(extra: dict[str, str] | None = None, *, user_config: bool = False) -> dict[str, str]:
    """The environment of a host git command: the worker's, without its ``GIT_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_OPTIONAL_LOCKS="0",
        LC_ALL="C",
        GIT_PAGER="cat",
        GIT_EDITOR="false",
    )
    if not user_config:
        env.update(ISOLATED)
    return {**env, **(extra or {})}


def argv(args: list[str], cwd: Path | str | None) -> list[str]:
    locked = [part for setting in LOCKED for part in ("-c", setting)]
    trust = ["-c", f"safe.directory={Path(cwd).resolve()}"] if cwd is not None else []
    return [GIT, *locked, *trust, *args]


def git(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
    user_config: bool = False,
) -> str:
    """Run git; return stdout (stripped of the final newline) or raise GitError."""
    proc = subprocess.run(
        argv(args, cwd),
        cwd=cwd,
        input=input,
        text=True,
        capture_output=True,
        errors="replace",  # a latin-1 file in a diff must not crash a run
        env=environ(env, user_config=user_config),
    )
    if check and proc.returncode != 0:
        raise GitError(_failure(args, proc.returncode, proc.stderr or proc.stdout))
    return proc.stdout.rstrip("\n")


def git_bytes(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> bytes:
    """Run git on binary input and output (archives, blobs, fast-import streams)."""
    proc = subprocess.run(
        argv(args, cwd), cwd=cwd, input=input, capture_output=True, env=environ(env)
    )
    if proc.returncode != 0:
        raise GitError(_failure(args, proc.returncode, proc.stderr.decode("utf-8", "replace")))
    return proc.stdout


def succeeds(args: list[str], cwd: Path | str | None = None) -> bool:
    """Whether a git command exits 0 (``cat-file -e``, ``show-ref --verify`` ...)."""
    proc = subprocess.run(argv(args, cwd), cwd=cwd, capture_output=True, env=environ())
    return proc.returncode == 0


def _failure(args: list[str], code: int, output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    while args and args[0] in ("--git-dir", "--work-tree", "--literal-pathspecs"):
        args = args[1:] if args[0] == "--literal-pathspecs" else args[2:]
    # clone and fetch end with advice ("... and the repository exists."): the first line says why
    first = args[0] in ("clone", "fetch") if args else False
    detail = (lines[0] if first else lines[-1]) if lines else f"exit {code}"
    return f"git {' '.join(args[:2])} failed: {detail}"
