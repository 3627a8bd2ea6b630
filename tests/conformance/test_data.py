"""The corpus's data is what it claims to be: pinned sdists, valid instances whose
patches apply to the user repository built from them. Fast: nothing installs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus import PROJECTS, build_repo, check_sdist, git, load, names

from overnight.evaluation import load_instances

SHAPES = (
    "setuptools",
    "flit",
    "hatchling",
    "poetry-core",
    "setuptools-scm",
    "hatch-vcs",
    "src layout",
    "namespace package",
    "--doctest-modules",
    "unittest-style",
    "tox.ini",
    "C extension",
    "hypothesis",
    "pytest-asyncio",
    "data files",
)


def test_the_corpus_has_at_least_twelve_projects_and_stays_small():
    assert len(names()) >= 12
    size = sum(f.stat().st_size for f in PROJECTS.rglob("*") if f.is_file())
    assert size < 6_000_000, f"the corpus is {size} bytes"


def test_the_corpus_covers_every_shape_it_claims():
    described = " ".join(" ".join(load(n).meta["shapes"]) for n in names())
    missing = [shape for shape in SHAPES if shape not in described]
    assert not missing, missing


@pytest.mark.parametrize("name", names())
def test_the_vendored_sdist_is_the_pinned_one_under_a_redistributable_licence(name: str):
    project = load(name)
    check_sdist(project)
    assert project.meta["licence"] in ("MIT", "BSD-3-Clause", "Apache-2.0")
    assert (project.path / "README.md").exists()


@pytest.mark.parametrize("name", names())
def test_the_instance_loads_as_eval_run_reads_it(name: str, tmp_path: Path):
    project = load(name)
    item = project.instance_for(tmp_path, "0" * 40)
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps(item) + "\n")
    (loaded,) = load_instances(path)
    assert loaded["FAIL_TO_PASS"] and loaded["PASS_TO_PASS"]
    assert "{tests}" in loaded["test_cmd"]
    assert (project.path / "gold.patch").read_text() == item["patch"]
    assert (project.path / "test.patch").read_text() == item["test_patch"]


@pytest.mark.parametrize("name", names())
def test_the_user_repository_is_tagged_and_takes_both_patches(name: str, tmp_path: Path):
    project = load(name)
    repo, base = build_repo(project, tmp_path / "repo")
    assert git(["describe", "--tags", "--abbrev=0"], repo) == project.version
    assert git(["status", "--porcelain", "--ignored"], repo) == ""
    tracked = git(["ls-files"], repo).splitlines()
    assert not [f for f in tracked if f == "PKG-INFO" or ".egg-info/" in f]
    assert not set(project.meta.get("untracked", [])) & set(tracked)
    git(["apply", "-"], repo, input=project.instance["test_patch"])
    git(["apply", "-"], repo, input=project.instance["patch"])
    assert git(["rev-parse", "HEAD"], repo) == base
