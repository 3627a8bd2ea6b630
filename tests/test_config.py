"""Project configuration: overnight.toml, [tool.overnight], detection and rendering."""

from __future__ import annotations

import tomllib

import pytest

from overnight.config import (
    DEFAULT_PROTECTED,
    GateConfig,
    ProjectConfig,
    cache_dir,
    database_url,
    detect,
    home,
)
from overnight.errors import ConfigError, UsageError
from overnight.gates.registry import GATE_NAMES
from overnight.gates.settings import config_from_dict, gate_setting, parse_config, render_toml

PIP_PYTEST = "python -m pip install pytest"


def same(a: ProjectConfig, b: ProjectConfig) -> bool:
    """Equal as configurations: a gate left out is the default gate."""
    plain = {k: v for k, v in a.to_dict().items() if k != "gates"}
    other = {k: v for k, v in b.to_dict().items() if k != "gates"}
    return plain == other and all(gate_setting(a, n) == gate_setting(b, n) for n in GATE_NAMES)


# -- reading -------------------------------------------------------------------


def test_overnight_toml_is_read():
    config = parse_config(
        {
            "overnight.toml": 'setup = ["pip install -e ."]\n'
            'test_cmd = "pytest -x"\nlint_cmd = "ruff check"\n'
            'agent = "command:true"\nagent_env = ["OPENAI_API_KEY"]\n'
            "timeout_minutes = 5\n"
            "[gates.lint]\nblocking = false\n"
            "[gates.scope]\nenabled = false\n"
        }
    )
    assert config.setup == ["pip install -e ."]
    assert (config.test_cmd, config.lint_cmd, config.agent) == (
        "pytest -x",
        "ruff check",
        "command:true",
    )
    assert config.agent_env == ["OPENAI_API_KEY"]
    assert config.timeout_minutes == 5
    assert gate_setting(config, "lint") == GateConfig(enabled=True, blocking=False)
    assert gate_setting(config, "scope") == GateConfig(enabled=False, blocking=True)
    assert gate_setting(config, "tests") == GateConfig()
    assert config.protected == DEFAULT_PROTECTED


def test_setup_given_as_one_string_becomes_a_list():
    config = parse_config({"overnight.toml": 'setup = "make deps"\n'})
    assert config.setup == ["make deps"]


def test_overnight_toml_settings_may_sit_under_an_overnight_table():
    config = parse_config({"overnight.toml": '[overnight]\ntest_cmd = "pytest -q"\n'})
    assert config.test_cmd == "pytest -q"


def test_tool_overnight_in_pyproject_is_read():
    pyproject = '[project]\nname = "x"\n\n[tool.overnight]\ntest_cmd = "pytest -q"\n'
    config = parse_config({"pyproject.toml": pyproject})
    assert config.test_cmd == "pytest -q"
    assert config.setup == []  # configured, so nothing is detected


def test_overnight_toml_wins_over_tool_overnight():
    config = parse_config(
        {
            "overnight.toml": 'test_cmd = "from-toml"\n',
            "pyproject.toml": '[tool.overnight]\ntest_cmd = "from-pyproject"\n',
        }
    )
    assert config.test_cmd == "from-toml"


def test_without_any_configuration_the_detected_one_is_used():
    files = {"requirements.txt": "requests\n"}
    assert parse_config(files) == detect(files)


# -- errors --------------------------------------------------------------------


def test_unknown_setting_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError) as info:
        parse_config({"overnight.toml": 'test_command = "pytest"\n'})
    message = str(info.value)
    assert message.startswith("overnight.toml: unknown setting(s) test_command; known: ")
    assert "test_cmd" in message
    assert isinstance(info.value, UsageError)


def test_unknown_setting_in_tool_overnight_names_pyproject():
    with pytest.raises(ConfigError, match=r"^pyproject.toml \[tool.overnight\]: unknown setting"):
        parse_config({"pyproject.toml": "[tool.overnight]\nslots = 3\n"})


def test_unknown_gate_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"overnight.toml": "[gates.typecheck]\nblocking = true\n"})
    message = str(info.value)
    assert message.startswith("overnight.toml: unknown gate 'typecheck'; known: scope, ")
    assert "tests" in message.split("known: ")[1]


def test_unknown_gate_option_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[gates.tests\] takes 'enabled' and 'blocking'"):
        parse_config({"overnight.toml": "[gates.tests]\nrequired = true\n"})


def test_bad_environment_is_a_config_error():
    with pytest.raises(ConfigError, match=r"env.SERVICE_TOKEN looks like a secret.*agent_env"):
        config_from_dict({"env": {"SERVICE_TOKEN": "abc"}})
    with pytest.raises(ConfigError, match=r"env.PYTHONHASHSEED must be a string \(quote it\)"):
        config_from_dict({"env": {"PYTHONHASHSEED": 0}})
    with pytest.raises(ConfigError, match="'environment' must be 'venv' or 'inherit'"):
        parse_config({"overnight.toml": 'environment = "conda"\n'})


def test_bad_toml_in_overnight_toml_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"overnight.toml": 'test_cmd = "pytest\n'})
    message = str(info.value)
    assert message.startswith("overnight.toml: ")
    assert "line 1" in message
    assert message.endswith("fix the TOML syntax")
    assert "\n" not in message


def test_bad_toml_in_pyproject_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^pyproject.toml: .*fix the TOML syntax$"):
        parse_config({"pyproject.toml": "[tool.overnight\n"})


# -- detection -----------------------------------------------------------------


def test_detect_on_an_empty_repository_installs_pytest_only():
    config = detect({})
    assert config.setup == [PIP_PYTEST]
    assert config.test_cmd == "python -m pytest"
    assert config.lint_cmd is None


def test_detect_installs_a_pyproject_project_with_its_test_extra():
    pyproject = (
        '[project]\nname = "x"\ndependencies = ["click"]\n'
        '[project.optional-dependencies]\ndocs = ["sphinx"]\ntest = ["pytest>=8", "hypothesis"]\n'
    )
    assert detect({"pyproject.toml": pyproject}).setup == ["python -m pip install -e '.[test]'"]


def test_detect_prefers_test_over_dev_extra():
    pyproject = (
        '[project]\nname = "x"\n[project.optional-dependencies]\n'
        'dev = ["pytest"]\ntesting = ["pytest"]\n'
    )
    assert detect({"pyproject.toml": pyproject}).setup == ["python -m pip install -e '.[testing]'"]


def test_detect_installs_pytest_when_the_project_does_not_list_it():
    pyproject = '[project]\nname = "x"\ndependencies = ["click"]\n'
    assert detect({"pyproject.toml": pyproject}).setup == [
        "python -m pip install -e .",
        PIP_PYTEST,
    ]


def test_pytest_settings_in_pyproject_do_not_count_as_installing_pytest():
    pyproject = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    assert PIP_PYTEST in detect({"pyproject.toml": pyproject}).setup


def test_pytest_in_an_extra_that_is_not_installed_does_not_count():
    pyproject = '[project]\nname = "x"\n[project.optional-dependencies]\nlint = ["pytest-ruff"]\n'
    assert detect({"pyproject.toml": pyproject}).setup == [
        "python -m pip install -e .",
        PIP_PYTEST,
    ]


def test_pytest_in_a_lock_file_alone_does_not_count():
    assert PIP_PYTEST in detect({"poetry.lock": '[[package]]\nname = "pytest"\n'}).setup


def test_detect_installs_requirements_files():
    files = {"requirements.txt": "requests\n", "requirements-dev.txt": "pytest==8.2\n"}
    assert detect(files).setup == [
        "python -m pip install -r requirements.txt",
        "python -m pip install -r requirements-dev.txt",
    ]


def test_detect_does_not_add_pytest_when_requirements_list_it():
    setup = detect({"requirements.txt": "PyTest>=7\n"}).setup
    assert setup == ["python -m pip install -r requirements.txt"]


def test_detect_setup_py_is_installed_editable_and_its_tests_require_too():
    # tests_require is never installed by pip: pytest must be (six's releases need it)
    files = {"setup.py": "from setuptools import setup\nsetup(tests_require=['pytest'])\n"}
    assert detect(files).setup == ["python -m pip install -e .", "python -m pip install pytest"]


@pytest.mark.parametrize(
    "files",
    [
        {"ruff.toml": "line-length = 100\n"},
        {".ruff.toml": ""},
        {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"},
    ],
)
def test_detect_configures_lint_when_ruff_is_configured(files):
    assert detect(files).lint_cmd == "ruff check"


def test_detect_tolerates_a_broken_pyproject():
    config = detect({"pyproject.toml": "[project\n"})
    assert config.setup == [PIP_PYTEST]


# -- rendering -----------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"requirements.txt": "pytest\n", "ruff.toml": ""},
        {"pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\ntest = []\n'},
    ],
)
def test_rendered_detected_config_parses_back_to_the_same_config(files):
    config = detect(files)
    text = render_toml(config)
    tomllib.loads(text)  # valid TOML
    assert same(parse_config({"overnight.toml": text}), config)


def test_rendered_custom_config_parses_back_to_the_same_config():
    config = ProjectConfig(
        setup=['pip install "a b"', "echo back\\slash"],
        test_cmd='pytest -k "not slow"',
        lint_cmd="ruff check src",
        agent='command:aider --message-file "$OVERNIGHT_SPEC"',
        agent_env=["OPENAI_API_KEY"],
        env={"DJANGO_SETTINGS_MODULE": "app.settings", "PYTHONHASHSEED": "0"},
        environment="inherit",
        protected=["overnight.toml", "ci/**"],
        gates={"lint": GateConfig(blocking=False), "scope": GateConfig(enabled=False)},
        timeout_minutes=7.5,
    )
    parsed = parse_config({"overnight.toml": render_toml(config)})
    assert same(parsed, config)
    assert gate_setting(parsed, "scope").enabled is False


def test_rendered_config_without_lint_leaves_lint_commented_out():
    text = render_toml(detect({}))
    assert '# lint_cmd = "ruff check"' in text
    assert "[gates.lint]" not in text
    assert parse_config({"overnight.toml": text}).lint_cmd is None


# -- where state lives ---------------------------------------------------------


def test_home_cache_and_database_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERNIGHT_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("OVERNIGHT_CACHE", raising=False)
    monkeypatch.delenv("OVERNIGHT_DATABASE_URL", raising=False)
    assert home() == tmp_path / "h"
    assert cache_dir() == tmp_path / "h" / "cache"
    assert database_url() == f"sqlite:///{tmp_path / 'h' / 'overnight.db'}"
    monkeypatch.setenv("OVERNIGHT_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("OVERNIGHT_DATABASE_URL", "postgresql://db/overnight")
    assert cache_dir() == tmp_path / "c"
    assert database_url() == "postgresql://db/overnight"


def test_home_defaults_to_the_xdg_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("OVERNIGHT_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert home() == tmp_path / "xdg" / "overnight"
