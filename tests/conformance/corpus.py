"""The conformance corpus: real projects, each vendored as its PyPI sdist with one
real upstream fix, and the user repository each one becomes.

A project lives in ``projects/<name>/``: the base version's sdist as published
(``project.json`` pins its version and sha256), ``instance.json`` (the fix as an
``overnight eval run`` instance, with ``{repo}`` and ``{base_commit}`` left for
the caller), the fix's ``gold.patch`` and ``test.patch`` (the same text as the
instance's ``patch`` and ``test_patch``) and, only when the project needs one,
the ``overnight.toml`` its user would commit.

``build_repo`` makes the repository a user would have: the sdist's tree without
the packaging artefacts (``PKG-INFO``, ``*.egg-info``) or the files upstream
generates and does not track (listed in ``untracked``, or ignored by the sdist's
own ``.gitignore``), committed and tagged with the version (so
setuptools-scm and hatch-vcs read it from git), then ``overnight.toml`` in a
commit of its own after the tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECTS = Path(__file__).parent / "projects"
DROPPED = ("PKG-INFO",)  # sdist metadata, never in a repository
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Corpus User",
    "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "Corpus User",
    "GIT_COMMITTER_EMAIL": "user@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Project:
    name: str
    path: Path
    meta: dict[str, Any]  # project.json
    instance: dict[str, Any]  # instance.json, placeholders unfilled

    @property
    def sdist(self) -> Path:
        return self.path / self.meta["base"]["sdist"]

    @property
    def version(self) -> str:
        return self.meta["base"]["version"]

    @property
    def config(self) -> str | None:
        toml = self.path / "overnight.toml"
        return toml.read_text() if toml.exists() else None

    def instance_for(self, repo: Path, base: str, suffix: str = "") -> dict[str, Any]:
        item = dict(self.instance)
        item.update(repo=str(repo), base_commit=base)
        item["instance_id"] += suffix
        return item


def load(name: str) -> Project:
    path = PROJECTS / name
    meta = json.loads((path / "project.json").read_text())
    instance = json.loads((path / "instance.json").read_text())
    return Project(name, path, meta, instance)


def names() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if (p / "project.json").exists())


def check_sdist(project: Project) -> None:
    """The vendored sdist is byte for byte the one published (its sha256 pinned)."""
    digest = hashlib.sha256(project.sdist.read_bytes()).hexdigest()
    if digest != project.meta["base"]["sha256"]:
        raise ValueError(f"{project.sdist}: sha256 {digest} is not the pinned one")


def git(args: list[str], cwd: Path, input: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


def extract(project: Project, dest: Path) -> Path:
    """The sdist's tree in ``dest``, less its packaging artefacts and untracked files."""
    check_sdist(project)
    with tarfile.open(project.sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(dest.parent / f"{dest.name}.unpack", filter="data")
    shutil.move(dest.parent / f"{dest.name}.unpack" / top, dest)
    (dest.parent / f"{dest.name}.unpack").rmdir()
    for name in DROPPED:
        (dest / name).unlink(missing_ok=True)
    for info in dest.glob("**/*.egg-info"):
        shutil.rmtree(info)
    for name in project.meta.get("untracked", []):
        (dest / name).unlink()
    return dest


def build_repo(project: Project, dest: Path) -> tuple[Path, str]:
    """The user's repository at ``dest``; returns it and its head (the task's base)."""
    repo = extract(project, dest)
    git(["init", "-q", "-b", "main"], repo)
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", f"{project.meta['pypi']} {project.version}"], repo)
    git(["tag", project.meta.get("tag", project.version)], repo)
    git(["clean", "-q", "-f", "-d", "-X"], repo)  # what the sdist ships but git ignores
    if project.config is not None:
        (repo / "overnight.toml").write_text(project.config)
        git(["add", "overnight.toml"], repo)
        git(["commit", "-q", "-m", "Configure overnight"], repo)
    return repo, git(["rev-parse", "HEAD"], repo)
