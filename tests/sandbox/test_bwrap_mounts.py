"""How bwrap's filesystem is laid out: what is hidden, what is bound, with which modes."""

from __future__ import annotations

import os

from overnight.sandbox import Access
from overnight.sandbox.bwrap import mounts


def test_parents_of_a_bound_workspace_are_created_traversable(make_sandbox, workspace, environ):
    done = make_sandbox().run(
        f"stat -c '%a %n' {workspace.parent} {workspace.parent.parent} /root /root/.pyenv",
        cwd=workspace,
        env=environ,
        timeout=30,
    )
    modes = [line.split()[0] for line in done.output.splitlines()]
    assert modes[:2] == ["755", "755"], done.output
    if os.geteuid() == 0:
        assert modes[2:] == ["755", "755"], done.output


def test_a_workspace_that_contains_overnight_home_does_not_expose_it(
    make_sandbox, environ, tmp_path, monkeypatch
):
    repo = tmp_path / "repo"
    home = repo / ".overnight"
    other = home / "workspaces" / "7-r1"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("workspace-canary")
    monkeypatch.setenv("OVERNIGHT_HOME", str(home))
    done = make_sandbox().run(
        "ls -A .overnight | wc -l; cat .overnight/workspaces/7-r1/secret.txt",
        cwd=repo,
        env=environ,
        timeout=30,
    )
    assert done.output.splitlines()[0] == "0"
    assert "No such file or directory" in done.output
    assert "workspace-canary" not in done.output


def test_readable_and_writable_paths_are_bound_at_their_own_paths(workspace, environ, tmp_path):
    venv, spec_dir, outcomes = tmp_path / "venv", tmp_path / "meta", tmp_path / "out"
    for path in (venv, spec_dir, outcomes):
        path.mkdir()
    args = mounts(
        workspace,
        {**environ, "VIRTUAL_ENV": str(venv)},
        Access(writable=(outcomes,), readable=(spec_dir,)),
    )
    pairs = {(args[i], args[i + 1]) for i in range(len(args) - 1)}
    assert ("--bind", str(workspace)) in pairs and ("--bind", str(outcomes)) in pairs
    assert ("--ro-bind", str(venv)) in pairs and ("--ro-bind", str(spec_dir)) in pairs
    assert ("--tmpfs", "/tmp") in pairs and ("--tmpfs", "/run") in pairs
    assert "--unshare-net" not in args  # namespaces are not the mounts' business
