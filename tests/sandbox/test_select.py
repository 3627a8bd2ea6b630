"""Picking a backend by name: auto, bwrap, container, none."""

from __future__ import annotations

import logging

import pytest

from overnight.errors import ConfigError
from overnight.sandbox import get_sandbox
from overnight.sandbox.engine import engine_status

from .conftest import need_bwrap


def test_auto_is_bwrap_when_bubblewrap_is_installed():
    need_bwrap()
    assert get_sandbox("auto").name == "bwrap"


def test_auto_without_bubblewrap_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="apt-get install bubblewrap socat") as exc:
        get_sandbox("auto")
    assert 'sandbox = "none"' in str(exc.value)
    with pytest.raises(ConfigError, match="bubblewrap is not installed"):
        get_sandbox("bwrap")


def test_container_is_refused_when_no_engine_answers(monkeypatch):
    monkeypatch.setenv("OVERNIGHT_CONTAINER_ENGINE", "no-such-engine")
    assert engine_status()[0] is None
    with pytest.raises(ConfigError, match="sandbox 'container' is unavailable"):
        get_sandbox("container")


def test_none_warns_on_every_run(caplog, tmp_path):
    sandbox = get_sandbox("none")
    with caplog.at_level(logging.WARNING, logger="overnight.sandbox.none"):
        for _ in range(2):
            sandbox.run("true", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=10)
    assert [r.message.split(":")[0] for r in caplog.records] == ["sandbox 'none'"] * 2


def test_an_unknown_name_lists_the_known_ones():
    known = "'auto', 'bwrap', 'container', 'container:<image>' or 'none'"  # from SANDBOXES
    with pytest.raises(ConfigError, match=f"unknown sandbox 'firejail': use {known}"):
        get_sandbox("firejail")


def test_a_bad_model_endpoint_is_a_config_error(monkeypatch):
    need_bwrap()
    monkeypatch.setenv("OVERNIGHT_MODEL_ENDPOINT", "not-an-endpoint")
    with pytest.raises(ConfigError, match="HOST:PORT"):
        get_sandbox("bwrap")
