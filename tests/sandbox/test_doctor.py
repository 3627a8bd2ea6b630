"""`overnight doctor`: the active backend, enforceable limits, what is missing."""

from __future__ import annotations

from click.testing import CliRunner

from overnight.cli import main
from overnight.sandbox.cgroups import detect
from overnight.sandbox.container import engine_status

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


def test_doctor_exits_1_when_the_active_backend_cannot_run(tmp_path):
    if engine_status()[0] is not None:
        return  # a host with a running engine can use the container backend
    result = CliRunner().invoke(main, ["doctor", "--sandbox", "container"])
    assert result.exit_code == 1
    assert result.output.startswith("active sandbox: UNUSABLE (configured: container)")
