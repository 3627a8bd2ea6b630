"""The test-integrity gate's checks, file by file, and the gate on real commits for
its tamper signals (the end-to-end cheating cases are in test_gates.py and
test_cheating.py; the signals one by one in test_signals.py)."""

from __future__ import annotations

from gatekit import config, context

from overnight.gates.integrity import (
    TestIntegrityGate,
    changes_pytest_config,
    check_file,
    read_tests,
)

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


def test_a_change_to_pytest_configuration_is_reported_not_held_against_the_change():
    """Grading runs with the base's configuration pinned (gates/pytest_run.py), so a
    changed one cannot steer it; it is reported for the reviewer."""
    before = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    after = before.replace('"-q"', '"-q -p no:x"')
    assert changes_pytest_config("pyproject.toml", before, after)
    assert findings(after, "pyproject.toml", before) == []
    assert not changes_pytest_config("pyproject.toml", before, before.replace('"x"', '"y"'))
    ini = "[pytest]\naddopts = -q\n"
    assert changes_pytest_config("pytest.ini", ini, "[pytest]\naddopts = -q --deselect t.py\n")
    # pytest reads .pytest.ini and pytest.toml before pyproject.toml
    assert changes_pytest_config(".pytest.ini", None, "[pytest]\naddopts = -p forged\n")
    assert changes_pytest_config("pytest.toml", None, '[pytest]\naddopts = ["-p", "forged"]\n')


def test_read_tests_counts_unittest_and_pytest_assertions():
    source = (
        "import pytest\n\n\ndef test_a():\n    with pytest.raises(ValueError):\n"
        "        int('x')\n    assert 1 == 1\n"
    )
    info = read_tests(source)["test_a"]
    assert info.asserts == 2
    assert info.trivial == 0
    assert read_tests("def test_broken(:\n") == {}


def test_start_up_modules_are_reported_in_any_folder_and_form():
    assert findings("import os\n", "a dir/sitecustomize/__init__.py", None) == [
        "a dir/sitecustomize/__init__.py: runs code at interpreter start-up; "
        "not allowed in a change"
    ]
    assert findings("import os\n", "vendor/usercustomize.py", None) != []


# -- the gate on real commits: tamper signals, file names and encodings ----------------------

CALC_BASE = {
    "calc.py": "import inspect\n\n\ndef add(a, b):\n    return a + b\n\n\n"
    "def caller():\n    return inspect.currentframe().f_back\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
REPORT_PATCH = (
    "import _pytest.reports\n\n_pytest.reports.TestReport.passed = property(lambda self: True)\n"
)


def gate_check(tmp_path, change):
    """The static checks alone: without the tests gate, passing tests are not counted."""
    no_tests = config("[gates.tests]\nenabled = false\n")
    return TestIntegrityGate().check(context(tmp_path, CALC_BASE, change, config=no_tests))


def test_the_gate_fails_a_conftest_patching_reports_in_a_folder_with_an_odd_name(tmp_path):
    outcome = gate_check(tmp_path, {"tésts dir/sub.d/conftest.py": REPORT_PATCH})
    assert outcome.verdict == "fail"
    assert (
        "tésts dir/sub.d/conftest.py:3: reaches into pytest or its plugin machinery: "
        "`_pytest.reports.TestReport.passed` replaced" in outcome.feedback
    )
    assert (
        "To fix: the code must not import or inspect pytest, _pytest or pluggy" in outcome.feedback
    )


def test_the_gate_reads_a_conftest_as_python_decodes_it(tmp_path):
    hidden = b"# -*- coding: utf-7 -*-\n# +AAo-def pytest_runtest_makereport(item, call): pass\n"
    outcome = gate_check(
        tmp_path,
        {"tests/conftest.py": hidden, "tests/x/conftest.py": "import pytest\n".encode("utf-16")},
    )
    assert outcome.verdict == "fail"
    assert "tests/conftest.py: hook pytest_runtest_makereport added or changed" in outcome.log
    assert (
        "tests/x/conftest.py: conftest.py that Python cannot read: cannot be decoded" in outcome.log
    )
    assert "To fix: write conftest.py as UTF-8 Python that parses." in outcome.feedback


def test_the_gate_fails_code_that_returns_an_object_equal_to_anything(tmp_path):
    rigged = CALC_BASE["calc.py"].replace(
        "def add(a, b):\n    return a + b\n",
        "class _Sum:\n    def __eq__(self, other):\n        return True\n\n\n"
        "def add(a, b):\n    return _Sum()\n",
    )
    outcome = gate_check(tmp_path, {"calc.py": rigged})
    assert outcome.verdict == "fail"
    assert outcome.summary == (
        "1 finding(s): calc.py:5: an object that compares equal to anything: "
        "`_Sum.__eq__` always returns true"
    )
    assert "To fix: implement __eq__ by comparing values" in outcome.feedback


def test_the_gate_passes_an_honest_fix_in_a_library_that_already_reads_frames(tmp_path):
    fixed = CALC_BASE["calc.py"].replace("return a + b", "return int(a) + int(b)")
    fixed += "\n\ndef sub(a, b):\n    return a - b\n"
    test = (
        CALC_BASE["tests/test_calc.py"] + "\n\ndef test_frames():\n    import inspect\n\n"
        "    assert inspect.currentframe() is not None\n"
    )
    outcome = gate_check(tmp_path, {"calc.py": fixed, "tests/test_calc.py": test})
    assert outcome.verdict == "pass", outcome.log
    assert outcome.summary == "no test weakened, no pytest hook or plugin added, no tamper signal"


def test_a_new_module_shadowing_pytest_or_the_standard_library_is_a_finding():
    """`python -m pytest` puts the root first on sys.path: a pytest.py there replaces pytest
    (and with it overnight's plugin and every outcome)."""
    from overnight.gates.integrity import shadows

    package = {"pkg/__init__.py"}
    exists = package.__contains__
    assert shadows("pytest.py", exists)[0].startswith("pytest.py: a new module named 'pytest'")
    assert shadows("json.py", exists) and shadows("src/json.py", exists)
    assert shadows("tests/_pytest/__init__.py", exists)
    assert shadows("pkg/json.py", exists) == []  # pkg.json: no shadow, a submodule
    assert shadows("calc.py", exists) == [] and shadows("README.md", exists) == []


def test_a_conftest_or_test_module_patching_the_code_under_test_for_every_test_is_a_finding():
    """A conftest that sets calc.mul to a right implementation makes the tests pass while
    calc.py stays wrong: the graded behaviour is not the delivered code's."""
    base = "import pytest\n"
    patched = "import calc\n\n\ndef _mul(a, b):\n    return a * b\n\n\ncalc.mul = _mul\n"
    found = findings(patched, "tests/conftest.py", base)
    assert found == [
        "tests/conftest.py:8: replaces calc.mul for every test (code under test "
        "must be changed in its own file, not patched by the tests' harness)"
    ]
    autouse = (
        "import pytest\nimport calc\n\n\n@pytest.fixture(autouse=True)\n"
        "def fix(monkeypatch):\n    monkeypatch.setattr(calc, 'mul', lambda a, b: a * b)\n"
    )
    assert findings(autouse, "tests/conftest.py", base)[0].startswith("tests/conftest.py:7: ")
    assert findings("import sys\nsys.modules['calc'] = object()\n", "tests/test_x.py", None)
    # a fixture a test asks for, and a module's own names, are ordinary test code
    ordinary = (
        "import pytest\nimport calc\n\n\n@pytest.fixture\ndef fake(monkeypatch):\n"
        "    monkeypatch.setattr(calc, 'mul', None)\n\n\nLIMIT = 3\n"
    )
    assert findings(ordinary, "tests/conftest.py", base) == []
