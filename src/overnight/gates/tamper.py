"""Canaries in a real test run: planted in the grading clone, judged, then removed.

``canary.py`` decides what the canaries are; this module puts them beside the
acceptance test files for one run of the tests gate and takes them out again.
The files are written without following a symlink anywhere on their path (the
tree was last written by graded code: the candidate's install ran there), and
removed the same way. What a canary reported is evidence for ``judge`` only:
the tests gate drops it from every other view (regressions, counts, coverage,
feedback), and the agent never sees a canary's name or text.
"""

from __future__ import annotations

import configparser
import errno
import os
import random
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from overnight.gates.canary import CanaryPlan, Collection, make_canaries
from overnight.gates.pytest_run import Pinned

OPTIONS = {"python_files": "files", "python_classes": "classes", "python_functions": "functions"}


def plan(
    acceptance: list[str], read: Callable[[str], str | None], pinned: Pinned | None
) -> CanaryPlan:
    """Fresh canaries for these acceptance tests (random from the system's source, so
    nothing the agent could know or reproduce)."""
    return make_canaries(acceptance, read, random.SystemRandom(), collection(pinned))


def collection(pinned: Pinned | None) -> Collection:
    """pytest's collection patterns as the base's configuration sets them."""
    if pinned is None or pinned.config is None:
        return Collection()
    name, text = pinned.config
    found: dict[str, tuple[str, ...]] = {}
    try:
        if name.endswith(".toml"):
            data = tomllib.loads(text)
            section = (
                data.get("tool", {}).get("pytest", {})
                if name == "pyproject.toml"
                else data.get("pytest", data)
            )
            section = section.get("ini_options", section)
            for key, field in OPTIONS.items():
                value = section.get(key)
                if value:
                    found[field] = tuple(value.split() if isinstance(value, str) else value)
        else:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            heading = "tool:pytest" if name == "setup.cfg" else "pytest"
            if parser.has_section(heading):
                for key, field in OPTIONS.items():
                    if parser.get(heading, key, fallback=""):
                        found[field] = tuple(parser.get(heading, key).split())
    except (tomllib.TOMLDecodeError, configparser.Error, AttributeError):
        return Collection()
    return Collection(**found)


@contextmanager
def planted(root: Path, plan: CanaryPlan) -> Iterator[list[str]]:
    """The plan's files written under ``root`` while the block runs; yields the ones
    that could not be written safely (a symlink on the way, a name taken)."""
    written, refused = [], []
    for canary in plan.files:
        try:
            _write(root, canary.path, canary.source.encode())
            written.append(canary.path)
        except OSError as exc:
            refused.append(f"{canary.path}: {os.strerror(exc.errno or errno.EIO)}")
    try:
        yield refused
    finally:
        for path in written:
            _remove(root, path)


def _write(root: Path, rel: str, data: bytes) -> None:
    with _directory(root, rel) as (parent, name):
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=parent
        )
        try:
            os.fchmod(fd, 0o644)  # whatever the worker's umask: the sandbox's uid reads it
            os.write(fd, data)
        finally:
            os.close(fd)


def _remove(root: Path, rel: str) -> None:
    try:
        with _directory(root, rel) as (parent, name):
            os.unlink(name, dir_fd=parent)
    except OSError:
        pass  # gone already, or its folder replaced by a link: nothing of ours to remove


@contextmanager
def _directory(root: Path, rel: str) -> Iterator[tuple[int, str]]:
    """The folder holding ``rel`` opened component by component, never through a link."""
    *folders, name = rel.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in folders:
            next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        yield fd, name
    finally:
        os.close(fd)
