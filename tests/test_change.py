"""The agent's change as data: packed in the sandbox, checked, stored with fast-import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overnight.pipeline.grading import GradingClone
from overnight.sandbox.none import NoSandbox
from overnight.spec import Spec
from overnight.testing import make_repo
from overnight.workspace import RepoCache, Workspace, git
from overnight.workspace.change import (
    MB,
    Bounds,
    Change,
    Entry,
    check,
    link_problem,
    path_problem,
    take,
)

ENV = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Workspace, GradingClone]:
    repo = make_repo(tmp_path / "repo", {"calc.py": "x = 1\n", "tests/test_calc.py": "y = 2\n"})
    sha = git(["rev-parse", "HEAD"], repo)
    cache = RepoCache(tmp_path / "cache").fetch(str(repo), sha)
    work = Workspace.create(cache, tmp_path / "ws" / "1-r1", sha, "overnight/1")
    grade = Workspace.create(
        cache, tmp_path / "ws" / "1-r1.grade", sha, "overnight/1", separate=True
    )
    return work, GradingClone(grade, Spec(title="t"))


def taken(work: Workspace, bounds: Bounds | None = None, origin=None) -> Change:
    return take(NoSandbox(), work.path, work.base_sha, ENV, bounds or Bounds(), origin)


def test_a_change_is_packed_and_rebuilt_as_the_same_tree(clones):
    work, grading = clones
    (work.path / "calc.py").write_text("x = 2\n")
    (work.path / "new dir").mkdir()
    (work.path / "new dir" / "héllo.txt").write_bytes(b"\x00\x01binary")
    (work.path / "run.sh").write_text("#!/bin/sh\n")
    (work.path / "run.sh").chmod(0o755)
    (work.path / "link").symlink_to("calc.py")
    (work.path / "tests" / "test_calc.py").unlink()
    change = taken(work)
    assert change.problems == []
    assert change.deleted == ["tests/test_calc.py"]
    assert change.files["new dir/héllo.txt"].data == b"\x00\x01binary"
    assert change.files["run.sh"].mode == "100755"
    assert change.files["link"] == Entry("120000", b"calc.py")
    tree = grading.import_change(change)
    listing = grading.workspace.git(["ls-tree", "-r", "-z", tree]).split("\0")
    assert "120000 blob" in next(e for e in listing if e.endswith("\tlink"))
    assert grading.changed(
        git(["rev-parse", f"{work.base_sha}^{{tree}}"], work.path), tree
    ) == sorted(["calc.py", "new dir/héllo.txt", "run.sh", "link", "tests/test_calc.py"])


def test_the_agents_own_index_is_left_alone(clones):
    work, _ = clones
    (work.path / "calc.py").write_text("x = 3\n")
    taken(work)
    assert git(["diff", "--cached", "--name-only"], work.path) == ""


def test_a_nested_repository_is_refused_and_its_fsmonitor_never_runs(clones, tmp_path):
    work, grading = clones
    marker = tmp_path / "ran-on-the-host"
    nested = work.path / "vendor" / "lib"
    git(["init", "-q", str(nested)])
    (nested / "a.py").write_text("a = 1\n")
    git(["-c", "user.name=a", "-c", "user.email=a@a", "add", "-A"], nested)
    git(["-c", "user.name=a", "-c", "user.email=a@a", "commit", "-qm", "x"], nested)
    hook = nested / "monitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    (nested / ".git" / "config").write_text(f"[core]\n\tfsmonitor = {hook}\n")
    change = taken(work)
    assert any("vendor/lib: a nested git repository" in p for p in change.problems)
    grading.workspace.reset_to(grading.workspace.base_sha)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../escape.py", "'..'"),
        ("a/.git/config", ".git"),
        ("a/.GIT/hooks/pre-commit", ".git"),
        ("bad\nname.py", "control characters"),
        ("/abs.py", "relative"),
        ("x/" + "y" * 300, "255 bytes"),
    ],
)
def test_paths_that_leave_the_tree_or_enter_git_are_refused(path, why):
    problem = path_problem(path)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("path", "target", "ok"),
    [
        ("tests", "/etc", False),
        ("a/link", "../../outside", False),
        ("a/link", "../b/file", True),
        ("a/b/link", "../../top", True),
        ("link", "sub/../../x", False),
        ("link", ".git/config", False),
        ("link", "", False),
    ],
)
def test_symlinks_may_only_point_inside_the_tree(path, target, ok):
    assert (link_problem(path, target.encode()) is None) is ok


def test_bounds_say_which_and_by_how_much():
    change = Change(
        files={"big.bin": Entry("100644", b"x" * (3 * MB))},
        size=3 * MB,
        disk_bytes=5 * MB,
        disk_files=10,
    )
    bounds = Bounds(change_mb=1, workspace_mb=2, workspace_files=5)
    problems = check(change, {"files": 1}, bounds, origin=(1 * MB, 2))
    assert "the change is 3.0 MB, over the 1 MB bound by 2.0 MB" in problems
    assert "the workspace grew by 4 MB on disk, over the 2 MB bound by 2 MB" in problems
    assert "the workspace grew by 8 files, over the 5 bound by 3" in problems


def test_a_change_over_its_bound_is_not_staged_or_stored(clones):
    work, _ = clones
    (work.path / "huge.bin").write_bytes(os.urandom(2 * MB))
    change = taken(work, Bounds(change_mb=1), origin=None)
    assert change.files == {}
    assert change.problems and "over the 1 MB bound" in change.problems[0]


def test_a_workspace_over_its_disk_bound_is_refused_before_staging(clones):
    work, _ = clones
    before = taken(work)
    with open(work.path / "sparse.bin", "wb") as f:  # 3 MB of real blocks
        f.write(os.urandom(3 * MB))
    change = taken(work, Bounds(workspace_mb=1), origin=(before.disk_bytes, before.disk_files))
    assert any("the workspace grew by" in p and "over the 1 MB bound" in p for p in change.problems)
    assert git(["cat-file", "--batch-all-objects", "--batch-check"], work.path).count("blob") < 5


def test_a_sparse_file_over_the_change_bound_is_refused_by_its_size_before_staging(clones):
    work, _ = clones
    with open(work.path / "sparse.bin", "wb") as f:  # 1 GB that takes no disk
        f.truncate(1024 * MB)
    (work.path / ".gitignore").write_text("ignored.bin\n")
    with open(work.path / "ignored.bin", "wb") as f:  # ignored: not part of any change
        f.truncate(1024 * MB)
    objects = git(["count-objects", "-v"], work.path)
    change = taken(work, Bounds(change_mb=1))
    assert change.problems and "the change is 1024.0 MB, over the 1 MB bound" in change.problems[0]
    assert git(["count-objects", "-v"], work.path) == objects  # nothing was hashed
    (work.path / "sparse.bin").unlink()
    assert not taken(work, Bounds(change_mb=1)).problems  # the ignored one alone is no change


def test_a_packer_that_fails_is_a_problem_not_a_crash(clones):
    work, _ = clones
    (work.path / ".git" / "index").write_text("garbage")
    change = taken(work)
    assert change.problems and "could not be read" in change.problems[0]


def test_a_fifo_in_the_workspace_is_refused_unless_ignored(clones):
    work, _ = clones
    os.mkfifo(work.path / "pipe")
    change = taken(work)
    assert any("pipe: a fifo, socket or device file" in p for p in change.problems)
    (work.path / ".gitignore").write_text("pipe\n")
    assert taken(work).problems == []
