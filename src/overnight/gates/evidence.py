"""Evidence that a gate ran on the change: the rule every gate follows.

A verdict is only as good as what the gate saw. When a gate's own evidence
shows that it did not run on the change — its tool missing, not executable,
killed by a limit or crashed; output it cannot read; the changed files never
reaching the check — the verdict is ``error``, with a summary that says what
is missing and what to check, never ``pass``. Each gate decides what its
evidence is (docs/gates.md lists them); the helpers here are the parts they
share: reading a command's completion, and telling whether the change itself
steers a tool's configuration (a tool configured by the candidate could be
told to skip the very files the change touched).
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import PurePosixPath

from overnight.gates import GateContext
from overnight.sandbox import Completed

NOT_EXECUTABLE, NOT_FOUND = 126, 127
CRASH = "Traceback (most recent call last):"
_SHELL_SAYS = re.compile(
    r"^(?:\S+: )?(?:line \d+: )?(\S+): (?:command not found|Permission denied|"
    r"No such file or directory)$",
    re.MULTILINE,
)

# The files each tool reads its configuration from: whole files by name, and
# (file name, section) pairs of shared files (a section ending in "*" is a prefix).
CONFIG_FILES: dict[str, tuple[set[str], set[tuple[str, str]]]] = {
    "ruff": ({"ruff.toml", ".ruff.toml"}, {("pyproject.toml", "tool.ruff")}),
    "mypy": ({"mypy.ini", ".mypy.ini"}, {("pyproject.toml", "tool.mypy"), ("setup.cfg", "mypy*")}),
}


def not_run(done: Completed, what: str) -> str | None:
    """Why ``done`` is no evidence of what ``what`` (a command, or a tool's name) checks:
    it never started, was stopped, or a limit killed it. None: it ran to its end."""
    program = _program(done)
    if done.cancelled:
        return f"{what} was cancelled before it finished"
    if done.timed_out:
        return f"{what} did not finish: it was killed at the time limit"
    if done.limit and done.exit_code != 0:
        return (
            f"{what} was stopped by the sandbox's {done.limit} limit (exit "
            f"{done.exit_code}): raise the limit or make the command lighter"
        )
    if done.exit_code == NOT_FOUND:
        return (
            f"{what}: '{program}' was not found (exit 127): check that it is installed "
            "where the gates run (the project's setup, or overnight's own environment) "
            "and that the sandbox shows it"
        )
    if done.exit_code == NOT_EXECUTABLE:
        return (
            f"{what}: '{program}' could not be executed (exit 126): check that it "
            "exists and is executable"
        )
    return None


def crashed(output: str) -> str | None:
    """The last line of a Python traceback in a tool's output (None: no traceback)."""
    if CRASH not in output:
        return None
    tail = output[output.rindex(CRASH) :].strip().splitlines()
    return tail[-1][:200] if tail else CRASH


def tail(output: str, limit: int = 200) -> str:
    """A tool's last line of output, which is where it says what went wrong."""
    return (output.strip().splitlines() or ["no output"])[-1][:limit]


def present(ctx: GateContext, suffixes: tuple[str, ...] = ("",)) -> list[str]:
    """The changed files with these suffixes (default: all) that the candidate's commit
    has (read from git, never the working tree, which the code under test may rewrite)."""
    wanted = [p for p in ctx.changed if p.endswith(suffixes)]
    if not wanted:
        return []
    listing = ctx.workspace.git(
        ["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", ctx.sha, "--", *wanted]
    )
    found = set(listing.split("\0"))  # decoded as the changed paths were
    return [p for p in wanted if p in found]


def configures(ctx: GateContext, tool: str) -> list[str]:
    """The changed files whose part that configures ``tool`` differs from the base's: the
    change steers how the tool judges it (``CONFIG_FILES``)."""
    whole, parts = CONFIG_FILES[tool]
    found = []
    for path in ctx.changed:
        name = PurePosixPath(path).name
        sections = [s for n, s in parts if n == name]
        if name in whole or any(
            section_of(name, ctx.base_source(path), s) != section_of(name, ctx.source(path), s)
            for s in sections
        ):
            found.append(path)
    return found


def section_of(name: str, text: str | None, section: str) -> object:
    """One tool's section of a shared configuration file, comparable across versions
    (a file that does not parse is compared whole)."""
    if text is None:
        return None
    try:
        if name.endswith(".toml"):
            data: object = tomllib.loads(text)
            for key in section.split("."):
                data = data.get(key) if isinstance(data, dict) else None
            return data
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        prefix = section.removesuffix("*")
        return {
            s: dict(parser[s])
            for s in parser.sections()
            if s == section or section.endswith("*") and s.startswith(prefix)
        }
    except (tomllib.TOMLDecodeError, configparser.Error):
        return text


def _program(done: Completed) -> str:
    """The program the shell could not run, as it says it, else the command's first word."""
    said = _SHELL_SAYS.search(done.output)
    if said:
        return said.group(1)
    try:
        words = shlex.split(done.command)
    except ValueError:
        words = done.command.split()
    return words[0] if words else done.command
