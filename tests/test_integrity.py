"""The test-integrity gate's checks, file by file (the end-to-end cheating cases
are in test_gates.py)."""

from __future__ import annotations

from overnight.gates.integrity import check_file, read_tests

BASE = """import pytest


def test_add():
    assert add(1, 2) == 3
    assert add(0, 0) == 0


class TestMul:
    def test_mul(self):
        self.assertEqual(mul(2, 3), 6)
"""


def findings(after: str, path: str = "tests/test_calc.py", before: str | None = BASE):
    return check_file(path, before, after)


def test_an_honest_change_adding_tests_and_assertions_has_no_findings():
    after = BASE + "\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"
    after = after.replace(
        "assert add(0, 0) == 0", "assert add(0, 0) == 0\n    assert add(1, 1) == 2"
    )
    assert findings(after) == []


def test_a_deleted_test_is_reported():
    after = BASE.replace("def test_add", "def helper_add")
    assert findings(after) == ["tests/test_calc.py::test_add: deleted or renamed"]


def test_a_deleted_test_file_reports_every_test():
    assert findings(None) == [  # type: ignore[arg-type]
        "tests/test_calc.py::test_add: deleted or renamed",
        "tests/test_calc.py::TestMul::test_mul: deleted or renamed",
    ]


def test_skip_and_xfail_markers_are_reported():
    after = BASE.replace("def test_add", "@pytest.mark.skip(reason='later')\ndef test_add")
    after = after.replace("    def test_mul", "    @pytest.mark.xfail\n    def test_mul")
    assert findings(after) == [
        "tests/test_calc.py::test_add: marked skip",
        "tests/test_calc.py::TestMul::test_mul: marked xfail",
    ]


def test_a_module_level_skip_marks_every_test():
    after = BASE.replace("import pytest\n", "import pytest\n\npytestmark = pytest.mark.skip\n")
    assert len(findings(after)) == 2
    assert all("marked skip" in f for f in findings(after))


def test_a_skip_call_inside_the_test_is_reported():
    after = BASE.replace(
        "    assert add(1, 2) == 3\n", "    pytest.skip('flaky')\n    assert add(1, 2) == 3\n"
    )
    assert findings(after) == ["tests/test_calc.py::test_add: marked skip"]


def test_dropped_and_trivial_assertions_are_reported():
    after = BASE.replace("    assert add(0, 0) == 0\n", "    assert True\n")
    assert findings(after) == [
        "tests/test_calc.py::test_add: an assertion that cannot fail was added"
    ]
    dropped = BASE.replace("    assert add(0, 0) == 0\n", "")
    assert findings(dropped) == ["tests/test_calc.py::test_add: assertions dropped from 2 to 1"]


def test_a_body_wrapped_in_a_swallowing_try_is_reported():
    after = BASE.replace(
        "    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n",
        "    try:\n        assert add(1, 2) == 3\n        assert add(0, 0) == 0\n"
        "    except Exception:\n        pass\n",
    )
    assert findings(after) == [
        "tests/test_calc.py::test_add: body wrapped in a try/except that swallows failures"
    ]


def test_a_try_that_reraises_is_not_swallowing():
    after = BASE.replace(
        "    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n",
        "    try:\n        assert add(1, 2) == 3\n        assert add(0, 0) == 0\n"
        "    except AssertionError:\n        print('context')\n        raise\n",
    )
    assert findings(after) == []


def test_a_new_conftest_hook_or_plugin_list_is_reported():
    conftest = "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n    items.clear()\n"
    assert findings(conftest, "conftest.py", None) == [
        "conftest.py: hook pytest_collection_modifyitems added or changed "
        "(a pytest hook can rewrite outcomes)"
    ]
    plugins = "pytest_plugins = ['myplugin']\n"
    assert findings(plugins, "tests/conftest.py", "") == [
        "tests/conftest.py: pytest_plugins added or changed (a pytest hook can rewrite outcomes)"
    ]


def test_new_fixtures_in_a_conftest_are_allowed():
    base = "import pytest\n\n\n@pytest.fixture\ndef one():\n    return 1\n"
    after = base + "\n\n@pytest.fixture\ndef two():\n    return 2\n"
    assert findings(after, "tests/conftest.py", base) == []


def test_startup_files_are_reported():
    assert findings("import os\n", "sitecustomize.py", None) == [
        "sitecustomize.py: runs code at interpreter start-up; not allowed in a change"
    ]
    assert findings("import hack\n", "src/evil.pth", None)[0].startswith("src/evil.pth")


def test_a_change_to_pytest_configuration_is_reported_but_other_settings_are_not():
    before = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    assert findings(before.replace('"-q"', '"-q -p no:x"'), "pyproject.toml", before) == [
        "pyproject.toml: pytest configuration changed"
    ]
    assert findings(before.replace('"x"', '"y"'), "pyproject.toml", before) == []
    ini = "[pytest]\naddopts = -q\n"
    assert findings("[pytest]\naddopts = -q --deselect t.py\n", "pytest.ini", ini) == [
        "pytest.ini: pytest configuration changed"
    ]


def test_read_tests_counts_unittest_and_pytest_assertions():
    source = (
        "import pytest\n\n\ndef test_a():\n    with pytest.raises(ValueError):\n"
        "        int('x')\n    assert 1 == 1\n"
    )
    info = read_tests(source)["test_a"]
    assert info.asserts == 2
    assert info.trivial == 0
    assert read_tests("def test_broken(:\n") == {}
