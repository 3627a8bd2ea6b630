"""The static tamper signals (overnight.gates.signals): each caught in the forms an
adversarial agent writes it, each legitimate counterpart left alone, and only
what a change adds counted. The gate around them is in test_integrity.py."""

from __future__ import annotations

import ast
import base64
import codecs

import pytest

from overnight.gates.signals import FileChange, check_change, startup_file
from overnight.gates.signals.names import Names

CALC = "def add(a, b):\n    return a + b\n"


def found(path: str, after: str | bytes | None, before: str | bytes | None = None) -> list[str]:
    return [
        str(f) for f in check_change([FileChange(path, _bytes(before), _bytes(after))]).findings
    ]


def _bytes(text: str | bytes | None) -> bytes | None:
    return text.encode() if isinstance(text, str) else text


def signals(path: str, after: str, before: str | None = None) -> set[str]:
    change = FileChange(path, _bytes(before), _bytes(after))
    return {f.signal for f in check_change([change]).findings}


# -- 1. conftest.py: hooks' cousins, import-time code, encodings ---------------------------

REPORT_PATCH = """import _pytest.reports

_pytest.reports.TestReport.passed = property(lambda self: True)
_pytest.reports.TestReport.failed = property(lambda self: False)
"""


def test_a_conftest_patching_test_report_at_import_is_found():
    findings = found("tests/conftest.py", REPORT_PATCH)
    assert (
        "tests/conftest.py:1: reaches into pytest or its plugin machinery: `_pytest.reports`"
        in findings
    )
    assert (
        "tests/conftest.py:3: reaches into pytest or its plugin machinery: "
        "`_pytest.reports.TestReport.passed` replaced" in findings
    )


@pytest.mark.parametrize(
    "conftest",
    [
        "import importlib\nm = importlib.import_module('_py' + 'test.reports')\n"
        "setattr(m.TestReport, 'outcome', 'passed')\n",
        "import sys\nR = sys.modules['_pytest.runner']\nR.call_and_report = lambda *a, **k: None\n",
        "r = __import__('_pytest.reports', fromlist=['x'])\nr.TestReport.passed = True\n",
        "import pytest\nname = ''.join(chr(c) for c in (95, 112, 121, 116, 101, 115, 116))\n"
        "mod = __import__(name)\n",
        "import base64\nmod = __import__(base64.b64decode('X3B5dGVzdC5ydW5uZXI=').decode())\n",
        "import sys\nmods = sys.modules\nmods.get('pluggy').HookimplMarker\n",
        "import gc\nfor o in gc.get_objects():\n    pass\n",
    ],
    ids=[
        "importlib-concat",
        "sys-modules",
        "dunder-import",
        "chr-join",
        "base64",
        "alias-get",
        "gc",
    ],
)
def test_a_conftest_reaching_pytest_internals_by_any_spelling_is_found(conftest):
    assert found("tests/conftest.py", conftest), conftest


def test_a_conftest_running_base64_encoded_code_is_found_and_the_code_read():
    hidden = base64.b64encode(b"import _pytest.runner\n").decode()
    findings = found("conftest.py", f"import base64\nexec(base64.b64decode('{hidden}'))\n")
    assert "conftest.py:2: hides the code it runs: runs code from a string" in findings
    assert (
        "conftest.py:2: reaches into pytest or its plugin machinery: `_pytest.runner`" in findings
    )


def test_a_conftest_defining_a_hook_in_a_string_is_found():
    conftest = "exec('def pytest_runtest_makereport(item, call):\\n    pass\\n')\n"
    assert found("tests/conftest.py", conftest) == [
        "tests/conftest.py:1: hides the code it runs: runs code from a string"
    ]


def test_the_code_under_test_running_decoded_code_is_found_but_plain_exec_is_read():
    hidden = base64.b64encode(b"x = 1\n").decode()
    assert found("calc.py", f"import base64\nexec(base64.b64decode('{hidden}'))\n") == [
        "calc.py:2: hides the code it runs: runs code decoded at run time"
    ]
    assert found("calc.py", "exec('import sys\\nf = sys._getframe(1)')\n") == [
        "calc.py:1: reads the running code's frames or sources: `sys._getframe`"
    ]
    codegen = (
        "def make(name):\n    ns = {}\n    exec(f'def {name}(): return 1', ns)\n    return ns\n"
    )
    assert found("calc.py", codegen) == []


def test_import_time_code_touching_pytest_in_a_conftest_is_found():
    conftest = "import pytest\n\npytest.importorskip('numpy_that_is_not_there')\n"
    assert found("tests/conftest.py", conftest) == [
        "tests/conftest.py:3: conftest.py does more than provide fixtures: "
        "`pytest.importorskip` runs when conftest.py is imported"
    ]


def test_an_aliased_hookimpl_and_a_hook_named_in_a_string_are_found():
    aliased = (
        "import pytest\nhi = pytest.hookimpl\n\n@hi(hookwrapper=True)\ndef f(item):\n    yield\n"
    )
    assert found("tests/conftest.py", aliased)
    named = "def f(item, call):\n    pass\n\nglobals()['pytest_' + 'runtest_makereport'] = f\n"
    assert found("tests/conftest.py", named) == [
        "tests/conftest.py:4: conftest.py does more than provide fixtures: "
        "`pytest_runtest_makereport` named in a string"
    ]


def test_collect_ignore_added_or_changed_in_a_conftest_is_found():
    assert found("tests/conftest.py", "collect_ignore = ['test_calc.py']\n") == [
        "tests/conftest.py:1: conftest.py does more than provide fixtures: "
        "`collect_ignore` added or changed"
    ]
    base = "collect_ignore = ['setup.py']\n"
    assert found(
        "conftest.py", "collect_ignore = ['setup.py']\ncollect_ignore_glob = ['t*']\n", base
    ) == [
        "conftest.py:2: conftest.py does more than provide fixtures: "
        "`collect_ignore_glob` added or changed"
    ]
    assert found("conftest.py", "import os\n\n" + base, base) == []


def test_a_conftest_exiting_the_process_is_found_without_overnight_variables():
    conftest = "import atexit, os\n\natexit.register(lambda: os._exit(0))\n"
    assert found("tests/conftest.py", conftest) == [
        "tests/conftest.py:3: an exit handler or forced exit: `atexit.register`",
        "tests/conftest.py:3: an exit handler or forced exit: `os._exit`",
    ]


FIXTURES = """import os

import pytest
from pytest import FixtureRequest, MonkeyPatch

pytest.register_assert_rewrite("tests.helpers")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")


@pytest.fixture
def calc_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.usefixtures("calc_home")
class Helper:
    pass
"""


def test_a_conftest_with_fixtures_only_is_not_flagged():
    assert found("tests/conftest.py", FIXTURES) == []


def test_a_conftest_that_already_used_internals_is_not_flagged_for_an_unrelated_fixture():
    base = "from _pytest.monkeypatch import MonkeyPatch\n\nmp = MonkeyPatch()\n"
    after = base + "\n\nimport pytest\n\n\n@pytest.fixture\ndef two():\n    return 2\n"
    assert found("tests/conftest.py", after, base) == []


LATIN1 = "# -*- coding: latin-1 -*-\nNAME = 'café'\nimport _pytest.runner\n"


def test_a_conftest_with_a_latin1_cookie_is_read_as_python_reads_it():
    data = LATIN1.encode("latin-1")
    assert found("tests/conftest.py", data) == [
        "tests/conftest.py:3: reaches into pytest or its plugin machinery: `_pytest.runner`"
    ]
    honest = "# -*- coding: latin-1 -*-\nNAME = 'café'\n".encode("latin-1")
    assert found("tests/conftest.py", honest) == []


def test_code_hidden_behind_a_utf7_cookie_is_read():
    # as UTF-8 the second line is a comment; as UTF-7, which the cookie names, "+AAo-"
    # is a newline and the import is code
    data = b"# -*- coding: utf-7 -*-\n# +AAo-import _pytest.runner as r\n"
    assert codecs.decode(data, "utf-7").count("\nimport _pytest") == 1
    assert found("a dir/tests/conftest.py", data) == [
        "a dir/tests/conftest.py:3: reaches into pytest or its plugin machinery: `_pytest.runner`"
    ]


def test_a_conftest_with_a_bom_is_read():
    data = codecs.BOM_UTF8 + REPORT_PATCH.encode()
    assert len(found("tests/conftest.py", data)) == 3


@pytest.mark.parametrize(
    "data, reason",
    [
        ("import pytest\n".encode("utf-16"), "cannot be decoded"),
        (b"# -*- coding: no-such-codec -*-\n", "cannot be decoded"),
        (b"def pytest_runtest_makereport(:\n", "does not parse"),
        (b"import pytest\x00\n", "does not parse"),
    ],
    ids=["utf-16", "unknown-codec", "syntax-error", "null-byte"],
)
def test_a_conftest_python_cannot_read_is_itself_a_finding(data, reason):
    (finding,) = found("tésts/übung dir/conftest.py", data)
    assert finding.startswith(
        f"tésts/übung dir/conftest.py: conftest.py that Python cannot read: {reason}"
    )


def test_code_that_cannot_be_parsed_is_noted_not_flagged():
    report = check_change([FileChange("calc.py", None, b"def add(:\n")])
    assert report.findings == []
    assert report.notes == [
        "calc.py: not scanned for tamper signals: it does not parse (invalid syntax, line 1)"
    ]


def test_a_test_module_patching_pytest_at_import_is_found_but_pytester_is_not():
    cheat = "import _pytest.runner\n\n_pytest.runner.call_and_report = lambda *a, **k: None\n"
    assert found("tests/test_zz.py", cheat) == [
        "tests/test_zz.py:3: reaches into pytest or its plugin machinery: "
        "`_pytest.runner.call_and_report` replaced"
    ]
    plugin_tests = (
        "from _pytest.pytester import Pytester\n\n\ndef test_plugin(pytester: Pytester):\n"
        "    pytester.makeconftest('def pytest_configure(config): pass')\n"
        "    pytester.runpytest().assert_outcomes(passed=0)\n"
    )
    assert found("tests/test_plugin.py", plugin_tests) == []


def test_a_test_module_adding_pytest_plugins_or_registering_a_plugin_is_found():
    assert found("tests/test_calc.py", "pytest_plugins = ['tests.forged']\n") == [
        "tests/test_calc.py:1: conftest.py does more than provide fixtures: "
        "`pytest_plugins` added or changed"
    ]
    register = "def test_x(request):\n    request.config.pluginmanager.register(object())\n"
    assert found("tests/test_calc.py", register) == [
        "tests/test_calc.py:2: reaches into pytest or its plugin machinery: `.pluginmanager`"
    ]


# -- 2. pytest internals, import hooks ------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "import pytest\n",
        "from _pytest.reports import TestReport\n",
        "from pluggy import HookimplMarker\n",
        "import sys\nrunner = sys.modules.get('_pytest.runner')\n",
        "import sys\n\ndef add(a, b):\n    return 3 if 'pytest' in sys.modules else a + b\n",
        "import os\n\ndef add(a, b):\n    return 3 if os.environ.get('PYTEST_CURRENT_TEST') "
        "else a + b\n",
        "import sys\n\ndef add(a, b):\n    return 3 if 'pytest' in sys.argv[0] else a + b\n",
        "from unittest import mock\nmock.patch('_pytest.runner.pytest_runtest_makereport')\n",
        "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\n",
    ],
    ids=[
        "pytest",
        "_pytest",
        "pluggy",
        "sys-modules-get",
        "pytest-in-sys-modules",
        "pytest-current-test",
        "argv",
        "patch-string",
        "unittest-patched",
    ],
)
def test_the_code_under_test_reaching_into_pytest_is_found(code):
    assert signals("src/calc/core.py", code) == {"internals"}, code


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.meta_path.insert(0, object())\n",
        "import sys\nsys.path_hooks.append(lambda p: None)\n",
        "import builtins\nbuiltins.__import__ = lambda *a, **k: None\n",
        "setattr(__builtins__, '__imp' + 'ort__', print)\n",
        "import importlib.abc\n\nclass Finder(importlib.abc.MetaPathFinder):\n    pass\n",
        "import sys, types\nsys.modules['calc'] = types.ModuleType('calc')\n",
        "import site\nsite.addsitedir('vendor')\n",
    ],
    ids=[
        "meta-path",
        "path-hooks",
        "builtins-import",
        "setattr-builtins",
        "finder",
        "planted-module",
        "site-dir",
    ],
)
def test_import_hooks_and_replaced_builtins_are_found(code):
    assert signals("calc.py", code) == {"import-hook"}, code


def test_a_pytest11_entry_point_is_found_in_packaging_metadata():
    base = '[project]\nname = "calc"\n'
    after = base + '\n[project.entry-points.pytest11]\nforged = "calc.forged"\n'
    assert found("pyproject.toml", after, base) == [
        "pyproject.toml:4: reaches into pytest or its plugin machinery: `pytest11` entry point"
    ]


def test_a_pytest_plugin_project_editing_its_plugin_is_not_flagged_for_what_it_had():
    base = "import pytest\n\n\n@pytest.fixture\ndef calc():\n    return 1\n"
    after = (
        base.replace("return 1", "return 2") + "\n\ndef helper():\n    return pytest.approx(1)\n"
    )
    assert found("src/pytest_calc/plugin.py", after, base) == [
        "src/pytest_calc/plugin.py:10: reaches into pytest or its plugin machinery: `pytest.approx`"
    ]
    assert found("src/pytest_calc/plugin.py", base.replace("return 1", "return 2"), base) == []


def test_dynamic_imports_of_the_projects_own_modules_are_not_flagged():
    code = (
        "import importlib\n\n\ndef load(name):\n"
        "    return importlib.import_module(f'calc.plugins.{name}')\n"
    )
    assert found("calc/loader.py", code) == []


# -- 3. frames, tracing, test files ---------------------------------------------------------

FRAME_CHEATS = {
    "getframe": "import sys\n\ndef add(a, b):\n    return sys._getframe(1).f_locals['expected']\n",
    "alias": "from inspect import currentframe as cf\n\ndef add(a, b):\n    return cf().f_back\n",
    "getattr": "import sys\n\nget = getattr(sys, '_get' + 'frame')\n",
    "stack": "import inspect\n\ndef add(a, b):\n    return inspect.stack()[1]\n",
    "getsource": "import inspect\n\ndef add(a, b):\n    return inspect.getsource(add)\n",
    "linecache": "import linecache as lc\n\ndef add(a, b):\n    return lc.getline('t.py', 3)\n",
    "traceback": "import traceback\n\ndef add(a, b):\n    return traceback.extract_stack()\n",
    "referrers": "import gc\n\ndef add(a, b):\n    return gc.get_referrers(a)\n",
    "settrace": "import sys\n\nsys.settrace(lambda *a: None)\n",
    "ctypes": "import ctypes\n\nctypes.pythonapi.PyFrame_LocalsToFast\n",
    "tb_frame": "def add(a, b):\n    try:\n        raise ValueError\n"
    "    except ValueError as e:\n        return e.__traceback__.tb_frame.f_back\n",
}


@pytest.mark.parametrize("name", list(FRAME_CHEATS))
def test_reading_frames_or_tracing_from_the_code_under_test_is_found(name):
    assert signals("calc.py", FRAME_CHEATS[name]) == {"frames"}, FRAME_CHEATS[name]


def test_a_library_that_already_read_frames_is_not_flagged_when_edited_elsewhere():
    base = (
        "import inspect\n\n\ndef caller():\n    return inspect.currentframe().f_back\n\n\n" + CALC
    )
    after = base.replace("return a + b", "return b + a") + "\n\ndef sub(a, b):\n    return a - b\n"
    assert found("calc.py", after, base) == []


def test_a_second_frame_read_is_found_where_the_change_added_it():
    base = "import sys\n\n\ndef caller():\n    return sys._getframe(1)\n"
    after = base + "\n\ndef add(a, b):\n    return sys._getframe(1)\n"
    assert found("calc.py", after, base) == [
        "calc.py:9: reads the running code's frames or sources: `sys._getframe`"
    ]


def test_a_frame_read_that_is_only_respelled_is_not_counted_again():
    base = "import sys\n\n\ndef caller():\n    return sys._getframe(1)\n"
    after = "import sys\n\n\ndef caller(depth=1):\n    return getattr(sys, '_getframe')(depth)\n"
    assert found("calc.py", after, base) == []


def test_tests_may_inspect_frames():
    test = "import inspect\n\n\ndef test_here():\n    assert inspect.currentframe().f_back\n"
    assert found("tests/test_frames.py", test) == []


@pytest.mark.parametrize(
    "code",
    [
        "def add(a, b):\n    text = open('tests/test_calc.py').read()\n    return 3\n",
        "from pathlib import Path\n\ndef add(a, b):\n"
        "    return (Path(__file__).parent / 'tests' / 'test_calc.py').read_text()\n",
        "import os\n\ndef add(a, b):\n    return os.listdir(os.path.join(ROOT, 'tests'))\n",
        "import importlib\n\nmod = importlib.import_module('tests.test_calc')\n",
        "import glob\n\nFILES = glob.glob('**/test_*.py', recursive=True)\n",
        "from .testing.frames import caller\n",
        "import importlib\n\nhack = importlib.import_module('calc.testing.hack')\n",
    ],
    ids=[
        "open",
        "pathlib",
        "listdir",
        "import",
        "glob",
        "code-among-the-tests",
        "import-module-among-the-tests",
    ],
)
def test_the_code_under_test_opening_test_files_is_found(code):
    assert signals("src/calc.py", code) == {"test-files"}, code


def test_the_code_under_test_opening_its_own_data_files_is_not_flagged():
    code = (
        "from pathlib import Path\n\n\ndef rates():\n"
        "    return (Path(__file__).parent / 'data' / 'rates.json').read_text()\n"
    )
    assert found("src/calc.py", code) == []


# -- 4. exit handlers and overnight's variables ----------------------------------------------


def test_reading_an_overnight_variable_from_the_code_under_test_is_found():
    code = (
        "import os\n\n\ndef add(a, b):\n"
        "    return 3 if os.environ.get('OVERNIGHT_OUTCOMES') else a + b\n"
    )
    assert found("calc.py", code) == [
        "calc.py:5: reads overnight's own variables: `OVERNIGHT_OUTCOMES`"
    ]


def test_reading_the_whole_environment_through_proc_is_found():
    code = "def add(a, b):\n    return open('/proc/self/environ', 'rb').read()\n"
    assert found("calc.py", code) == [
        "calc.py:2: reads overnight's own variables: `/proc/self/environ`"
    ]


@pytest.mark.parametrize(
    "spelling",
    [
        "'OVER' + 'NIGHT_OUTCOMES'",
        "codecs.decode('BIREAVTUG_BHGPBZRF', 'rot13')",
        f"base64.b64decode('{base64.b64encode(b'OVERNIGHT_OUTCOMES').decode()}').decode()",
        "'SEMOCTUO_THGINREVO'[::-1]",
        "PREFIX + '_OUTCOMES'",
    ],
)
def test_an_overnight_variable_is_found_however_its_name_is_built(spelling):
    code = f"import base64, codecs, os\nPREFIX = 'OVERNIGHT'\nvalue = os.environ.get({spelling})\n"
    assert "overnight-env" in signals("calc.py", code), spelling


def test_an_exit_handler_is_found_with_an_overnight_variable_anywhere_in_the_change():
    library = "import atexit\n\n\ndef flush():\n    pass\n\n\natexit.register(flush)\n"
    test = "import os\n\n\ndef test_x():\n    assert os.environ.get('OVERNIGHT_OUTCOMES') is None\n"
    report = check_change(
        [
            FileChange("calc.py", None, library.encode()),
            FileChange("tests/test_x.py", None, test.encode()),
        ]
    )
    assert [str(f) for f in report.findings] == [
        "calc.py:8: an exit handler or forced exit: `atexit.register`, in a change that "
        "mentions `OVERNIGHT_OUTCOMES` (tests/test_x.py:5)",
        "tests/test_x.py:5: reads overnight's own variables: `OVERNIGHT_OUTCOMES`",
    ]


def test_an_exit_handler_alone_and_a_test_reading_overnight_variables_alone_are_not_flagged():
    library = "import atexit\n\n\ndef flush():\n    pass\n\n\natexit.register(flush)\n"
    assert found("calc.py", library) == []
    test = "import os\n\n\ndef test_x():\n    assert os.environ.get('OVERNIGHT_OUTCOMES') is None\n"
    assert found("tests/test_x.py", test) == []


def test_docstrings_mentioning_atexit_or_overnight_variables_are_not_flagged():
    code = (
        '"""Flushes with atexit; OVERNIGHT_OUTCOMES is not read here."""\n\n\n'
        'def add(a, b):\n    """Uses no atexit."""\n    return a + b\n'
    )
    assert found("calc.py", code) == []


# -- 5. objects equal to anything --------------------------------------------------------------

ALWAYS_EQUAL = {
    "return-true": "class Any:\n    def __eq__(self, other):\n        return True\n",
    "lambda": "class Any:\n    __eq__ = lambda *a: True\n",
    "not-false": "class Any:\n    def __eq__(self, other):\n        return not False\n",
    "truthy-constant": "class Any:\n    def __eq__(self, other):\n        return 'yes'\n",
    "or-true": "class Any:\n    def __eq__(self, o):\n        return self.v == o or True\n",
    "self": "class Any:\n    def __eq__(self, other):\n        return self\n",
    "module-function": "def yes(*a):\n    return 1\n\n\nclass Any:\n    __eq__ = yes\n",
    "ne-false": "class Any:\n    def __ne__(self, other):\n        return False\n",
    "type-dict": "Any = type('Any', (), {'__eq__': lambda s, o: True})\n",
    "setattr": "class Any:\n    pass\n\n\nsetattr(Any, '__eq__', lambda s, o: True)\n",
    "truthy-object": "class Yes:\n    def __bool__(self):\n        return True\n\n\n"
    "class Any:\n    def __eq__(self, other):\n        return Yes()\n",
    "contains": "class All:\n    def __contains__(self, item):\n        return True\n",
    "mock-any": "from unittest import mock\n\n\ndef add(a, b):\n    return mock.ANY\n",
}


@pytest.mark.parametrize("name", list(ALWAYS_EQUAL))
def test_an_object_equal_to_anything_is_found(name):
    assert signals("calc.py", ALWAYS_EQUAL[name]) == {"always-equal"}, ALWAYS_EQUAL[name]


def test_a_subclass_of_int_overriding_eq_and_a_constant_hash_are_found():
    code = (
        "class Six(int):\n    def __eq__(self, other):\n        return other in (6, self)\n\n"
        "    def __hash__(self):\n        return 6\n"
    )
    assert found("calc.py", code) == [
        "calc.py:2: an object that compares equal to anything: `Six` subclasses `int` and "
        "overrides equality",
        "calc.py:5: an object that compares equal to anything: `Six.__hash__` returns a "
        "constant beside a custom `__eq__`",
    ]


def test_normal_equality_is_not_flagged():
    code = (
        "import dataclasses\n\n\n@dataclasses.dataclass(eq=False)\nclass Point:\n"
        "    x: int\n\n    def __eq__(self, other):\n        if not isinstance(other, Point):\n"
        "            return NotImplemented\n        return self.x == other.x\n\n"
        "    def __hash__(self):\n        return hash(self.x)\n\n"
        "    def __bool__(self):\n        return True\n\n\n"
        "class Unhashable:\n    def __eq__(self, other):\n        return self is other\n\n"
        "    __hash__ = None\n"
    )
    assert found("calc.py", code) == []


def test_tests_may_define_objects_equal_to_anything():
    test = "class Anything:\n    def __eq__(self, other):\n        return True\n"
    assert found("tests/helpers.py", test) == []


# -- 6. start-up files and compiled code ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "sitecustomize.py",
        "a dir/sitecustomize.py",
        "src/usercustomize/__init__.py",
        "lib/sitecustomize.cpython-311.pyc",
        "deep/ünïcode/x.pth",
    ],
)
def test_start_up_files_are_recognised_in_any_folder(path):
    assert startup_file(path)


@pytest.mark.parametrize("path", ["site_customize.py", "calc/customize.py", "path.txt"])
def test_ordinary_files_are_not_start_up_files(path):
    assert not startup_file(path)


def test_a_compiled_module_in_a_change_is_found():
    assert found("calc.cpython-311-x86_64-linux-gnu.so", b"\x7fELF") == [
        "calc.cpython-311-x86_64-linux-gnu.so: compiled code, which cannot be checked: "
        "`calc.cpython-311-x86_64-linux-gnu.so`"
    ]


# -- counting what the change adds -----------------------------------------------------------


def test_a_moved_file_brings_its_frame_reads_along():
    code = "import sys\n\n\ndef caller():\n    return sys._getframe(1)\n"
    report = check_change(
        [
            FileChange("calc/old.py", code.encode(), None),
            FileChange("calc/new.py", None, code.encode()),
        ]
    )
    assert report.findings == []


def test_code_moved_from_one_module_into_another_is_not_counted_again():
    frames = "import sys\n\n\ndef caller():\n    return sys._getframe(1)\n"
    core = frames + "\n\n" + CALC
    split = [
        FileChange("calc/core.py", core.encode(), CALC.encode()),
        FileChange("calc/frames.py", None, frames.encode()),
    ]
    assert check_change(split).findings == []
    copied = [
        FileChange("calc/core.py", core.encode(), (core + "\n").encode()),
        FileChange("calc/frames.py", None, frames.encode()),
    ]
    assert [str(f) for f in check_change(copied).findings] == [
        "calc/frames.py:5: reads the running code's frames or sources: `sys._getframe`"
    ]


def test_a_deleted_file_is_not_scanned():
    assert found("calc.py", None, "import _pytest\n") == []


# -- names and folded strings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, value",
    [
        ("'_py' + 'test'", "_pytest"),
        ("''.join(chr(c) for c in (95, 112, 121))", "_py"),
        ("''.join(map(chr, [79, 86]))", "OV"),
        ("bytes.fromhex('5f7079').decode()", "_py"),
        ("f'{P}test'", "_pytest"),
        ("'%s%s' % ('_py', 'test')", "_pytest"),
        ("'{}test'.format(P)", "_pytest"),
        ("''.join([chr(c ^ 1) for c in (94, 113)])", "_p"),
    ],
)
def test_strings_built_from_constants_are_folded(expr, value):
    tree = ast.parse(f"P = '_py'\nx = {expr}\n")
    names = Names(tree)
    assert names.strings(tree.body[1].value) == {value}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "expr",
    [
        "'x' * 10**9",
        "bytes(10**9)",
        "'x'.center(10**9)",
        "'%999999999s' % 'a'",
        "'{0.x}'.format(P)",
    ],
)
def test_folding_refuses_what_would_be_huge_or_look_up_attributes(expr):
    tree = ast.parse(f"P = '_py'\nx = {expr}\n")
    assert Names(tree).strings(tree.body[1].value) == set()  # type: ignore[attr-defined]


def test_references_are_resolved_through_aliases_getattr_and_vars():
    tree = ast.parse(
        "import sys as s\nimport importlib\nm = importlib.import_module('inspect')\n"
        "a = s\nb = getattr(a, '_getframe')\nc = vars(s)['settrace']\nd = m.stack\n"
    )
    names = Names(tree)
    values = {t.targets[0].id: names.refs(t.value) for t in tree.body[3:]}  # type: ignore[attr-defined]
    assert values == {
        "a": {"sys"},
        "b": {"sys._getframe"},
        "c": {"sys.settrace"},
        "d": {"inspect.stack"},
    }


def test_code_nested_too_deeply_to_check_is_a_finding_not_a_crash():
    def concatenation(terms: int) -> bytes:
        return ("x = " + " + ".join(["'a'"] * terms) + "\n").encode()

    compile(concatenation(1500), "calc.py", "exec")  # Python runs it: it must be checked
    report = check_change([FileChange("calc.py", None, concatenation(1500))])
    assert [str(f) for f in report.findings] == [
        "calc.py: hides the code it runs: nested too deeply to check"
    ]
    with pytest.raises(RecursionError):
        compile(concatenation(30_000), "calc.py", "exec")  # nor does Python: a note will do
    report = check_change([FileChange("calc.py", None, concatenation(30_000))])
    assert report.notes == [
        "calc.py: not scanned for tamper signals: it is nested too deeply to parse"
    ]
