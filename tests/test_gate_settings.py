"""Per-gate configuration blocks: typed options, custom commands, errors, rendering."""

from __future__ import annotations

import tomllib

import pytest

from overnight.config import GateConfig, ProjectConfig
from overnight.errors import ConfigError
from overnight.gates.coverage import CoverageConfig
from overnight.gates.custom import CommandConfig
from overnight.gates.docs import DocsConfig
from overnight.gates.downstream import DownstreamConfig, DownstreamRepo
from overnight.gates.registry import GATE_NAMES
from overnight.gates.review import ReviewConfig
from overnight.gates.security import SecurityConfig
from overnight.gates.settings import config_from_dict, gate_setting, parse_config, render_toml
from overnight.gates.typecheck import TypesConfig

FULL = """
[gates.types]
command = "mypy src"

[gates.coverage]
threshold = 90
blocking = true

[gates.security]
skip = ["B101", "B311"]
audit_service = "osv"
osv_url = "http://127.0.0.1:9/v1/query"

[gates.docs]
api_change = "blocking"
paths = ["docs/**"]

[gates.downstream]
repos = [{repo = "../app", setup = ["python -m pip install pytest"], test_cmd = "pytest -q"}]

[gates.review]
model = "openai-compatible:http://127.0.0.1:1/v1#m"

[gates.command.docs-build]
command = "mkdocs build --strict"
blocking = false
"""


def parse(text: str) -> ProjectConfig:
    return parse_config({"overnight.toml": text})


def test_each_gate_reads_its_own_typed_options():
    config = parse(FULL)
    assert gate_setting(config, "types") == TypesConfig(command="mypy src")
    assert gate_setting(config, "coverage") == CoverageConfig(threshold=90.0, blocking=True)
    security = gate_setting(config, "security")
    assert isinstance(security, SecurityConfig)
    assert (security.skip, security.audit_service) == (["B101", "B311"], "osv")
    assert gate_setting(config, "docs") == DocsConfig(api_change="blocking", paths=["docs/**"])
    assert gate_setting(config, "downstream") == DownstreamConfig(
        repos=[DownstreamRepo("../app", "pytest -q", ["python -m pip install pytest"])]
    )
    assert isinstance(gate_setting(config, "review"), ReviewConfig)
    assert config.gates["docs-build"] == CommandConfig(
        blocking=False, command="mkdocs build --strict"
    )


def test_gates_left_out_get_their_defaults_advisory_where_documented():
    config = parse("")
    assert gate_setting(config, "coverage") == CoverageConfig()
    assert gate_setting(config, "coverage").blocking is False
    assert gate_setting(config, "review").blocking is False
    assert gate_setting(config, "security").blocking is True
    assert gate_setting(config, "tests") == GateConfig()


def test_config_survives_to_dict_and_from_dict_with_custom_commands_nested():
    config = parse(FULL)
    data = config.to_dict()
    assert data["gates"]["command"]["docs-build"]["command"] == "mkdocs build --strict"
    again = config_from_dict(data)
    assert again.gates == config.gates


def test_rendered_config_with_options_parses_back_to_the_same_gates():
    config = parse(FULL)
    text = render_toml(config)
    tomllib.loads(text)
    again = parse(text)
    assert all(gate_setting(again, n) == gate_setting(config, n) for n in GATE_NAMES)
    assert again.gates["docs-build"] == config.gates["docs-build"]
    assert "[gates.command.docs-build]" in text


def test_rendered_default_config_shows_hints_for_unset_options():
    text = render_toml(ProjectConfig())
    assert '# command = "mypy ."' in text
    assert "[gates.coverage]\nblocking = false" in text
    assert same_gates(parse(text), ProjectConfig())


def same_gates(a: ProjectConfig, b: ProjectConfig) -> bool:
    return all(gate_setting(a, n) == gate_setting(b, n) for n in GATE_NAMES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gates.coverage]\nthreshold = 'high'\n", "[gates.coverage] 'threshold' must be a number"),
        ("[gates.coverage]\nlimit = 3\n", "[gates.coverage] takes 'enabled', 'blocking', "),
        ("[gates.docs]\napi_change = 'sometimes'\n", "'api_change' must be one of: blocking"),
        ("[gates.security]\nseverity = 'extreme'\n", "'severity' must be one of: low, medium"),
        ("[gates.downstream]\nrepos = [{test_cmd = 'x'}]\n", "needs 'repo'"),
        ("[gates.downstream]\nrepos = [{repo = 1}]\n", "'repo' must be a string"),
        ("[gates.command.tests]\ncommand = 'true'\n", "not a built-in gate's"),
        ("[gates.command.build]\nblocking = false\n", "'command' is required"),
        ("[gates.command]\ncommand = 'true'\n", "[gates.command.NAME] tables"),
        ("[gates.typecheck]\ncommand = 'mypy'\n", "unknown gate 'typecheck'"),
    ],
)
def test_bad_gate_options_are_config_errors_naming_the_table(text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)
