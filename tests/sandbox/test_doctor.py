"""`overnight doctor`: the active backend, enforceable limits, what is missing."""

from __future__ import annotations

from click.testing import CliRunner

from overnight.cli import main
from overnight.sandbox.cgroups import detect
from overnight.sandbox.engine import engine_status

from .conftest import need_bwrap


def test_doctor_reports_the_backend_limits_and_what_is_missing(tmp_path):
    need_bwrap()
    (tmp_path / "overnight.toml").write_text('sandbox = "auto"\n')
    result = CliRunner().invoke(main, ["doctor", "--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("active sandbox: bwrap (configured: auto)")
    assert "ok  bwrap" in result.output and "namespaces work" in result.output
    host = detect()
    for controller in host.usable:
        assert f"cgroup v{host.version} {controller} controller" in result.output
    engine, state = engine_status()
    assert ("ok  container" if engine else "NO  container") in result.output
    assert state in result.output
    if engine is None:
        assert "container: install docker or podman" in result.output.split("missing:")[1]


def test_doctor_exits_1_when_the_active_backend_cannot_run(monkeypatch):
    monkeypatch.setenv("OVERNIGHT_CONTAINER_ENGINE", "no-such-engine")
    result = CliRunner().invoke(main, ["doctor", "--sandbox", "container"])
    assert result.exit_code == 1
    assert result.output.startswith("active sandbox: UNUSABLE (configured: container)")


def test_a_home_under_a_folder_the_task_uid_cannot_enter_still_works(tmp_path, monkeypatch):
    """mktemp -d makes 0700 folders; a home under one gave pip a PermissionError in the
    setup log. The sandbox builds the path to what it binds itself, and both doctor and
    `overnight worker` try a sandboxed command there before any task."""
    need_bwrap()
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    monkeypatch.setenv("OVERNIGHT_HOME", str(closed / "home"))
    monkeypatch.setenv("OVERNIGHT_SANDBOX", "bwrap")
    result = CliRunner().invoke(main, ["doctor", "--sandbox", "bwrap"])
    assert f"ok  home            a sandboxed command works in {closed}/home/workspaces" in (
        result.output
    )
    worker = CliRunner().invoke(main, ["worker", "--drain"])
    assert worker.exit_code == 0, worker.output
