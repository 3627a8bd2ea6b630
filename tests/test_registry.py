"""The one mechanism behind every kind of part: names, arguments, error texts."""

import pytest

from overnight.agents.registry import AGENTS
from overnight.errors import ConfigError
from overnight.forges.registry import FORGES, build_forge
from overnight.gates.registry import GATE_NAMES, GATES
from overnight.registry import Argument, Registry
from overnight.sandbox.select import SANDBOXES, select_sandbox


class Plain:
    name = "plain"
    argument: Argument | None = None


class Optional:
    name = "optional"
    argument: Argument | None = Argument("thing")


class Required:
    name = "required"
    argument: Argument | None = Argument("what", required=True)


PARTS: Registry[Plain] = Registry("part", (Plain, Optional, Required), aliases=("auto",))


def test_error_text_lists_every_way_to_name_a_part():
    assert PARTS.choices() == (
        "'auto', 'plain', 'optional', 'optional:<thing>' or 'required:<what>'"
    )
    assert PARTS.problem("other") == f"unknown part 'other': use {PARTS.choices()}"


@pytest.mark.parametrize("name", ["plain", "plain:", "optional", "optional:x", "required:x"])
def test_names_a_part(name):
    assert PARTS.problem(name) is None
    assert PARTS.get(name)[0].name == name.partition(":")[0]


@pytest.mark.parametrize("name", ["plain:x", "required", "required: ", "auto", "", "other"])
def test_does_not_name_a_part(name):
    assert PARTS.problem(name)
    with pytest.raises(ConfigError, match="unknown part"):
        PARTS.get(name)


def test_get_returns_the_argument_as_written():
    assert PARTS.get("required:a:b") == (Required, "a:b")


def test_two_parts_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two parts named 'plain'"):
        Registry("part", (Plain, Plain))


def test_every_kind_has_its_built_in_parts_in_order():
    assert AGENTS.names == ("builtin", "command")
    assert SANDBOXES.names == ("bwrap", "container", "none")
    assert FORGES.names == ("local", "github", "gitlab")
    assert GATES.names == GATE_NAMES and GATE_NAMES[0] == "scope"


def test_unknown_sandbox_and_forge_name_the_valid_ones():
    with pytest.raises(ConfigError, match="use 'auto', 'bwrap', 'container', 'container:<image>'"):
        select_sandbox("jail")
    with pytest.raises(
        ConfigError, match="unknown forge 'gitea': use 'local', 'github' or 'gitlab'"
    ):
        build_forge({"kind": "gitea"}, repo="r", base="main")
    assert build_forge({}, repo="r", base="main").name == "local"
