"""What each signal looks for: dotted names, attribute names, strings.

A dotted rule matches a reference to that name or anything inside it
(``atexit`` matches ``atexit.register``); references come from ``names.py``,
so aliases, ``getattr`` and ``importlib`` spellings are already resolved.
"""

from __future__ import annotations

import re

HARNESS = "conftest"  # signal 1: conftest.py doing more than fixtures
INTERNALS = "internals"  # signal 2: pytest and its plugin machinery from the code
IMPORT_HOOK = "import-hook"  # signal 2: import hooks, replaced builtins, planted modules
FRAMES = "frames"  # signal 3: callers' frames, tracing, sources of the running code
TEST_FILES = "test-files"  # signal 3: opening test files
EXIT_HOOK = "exit-hook"  # signal 4: exit handlers (count with OVERNIGHT_* names)
OVERNIGHT = "overnight-env"  # signal 4: overnight's own variables
ALWAYS_EQUAL = "always-equal"  # signal 5: objects equal to anything
STARTUP = "startup"  # signal 6: code run at interpreter start
COMPILED = "compiled"  # code no one can read
HIDDEN = "hidden-code"  # exec of code decoded at run time
UNDECODABLE = "undecodable"  # a conftest.py Python cannot read

PYTEST_FAMILY = ("pytest", "_pytest", "pluggy")

INTERNAL_REFS = {"_pytest", "pluggy", "pytest", "py.test"}
IMPORT_HOOK_REFS = {
    "sys.meta_path",
    "sys.path_hooks",
    "sys.path_importer_cache",
    "importlib.abc.MetaPathFinder",
    "importlib.abc.PathEntryFinder",
    "importlib.abc.Finder",
    "importlib.abc.Loader",
    "importlib.abc.SourceLoader",
    "importlib.abc.FileLoader",
    "importlib.machinery.FileFinder.path_hook",
    "importlib.machinery.PathFinder",
    "importlib.invalidate_caches",
    "site.addsitedir",
    "site.main",
}
FRAME_REFS = {
    "inspect.stack",
    "inspect.currentframe",
    "inspect.getouterframes",
    "inspect.getinnerframes",
    "inspect.trace",
    "inspect.getframeinfo",
    "inspect.getsource",
    "inspect.getsourcelines",
    "inspect.getsourcefile",
    "inspect.findsource",
    "inspect.getcomments",
    "sys._getframe",
    "sys._getframemodulename",
    "sys._current_frames",
    "sys._current_exceptions",
    "sys.settrace",
    "sys.setprofile",
    "sys.monitoring",
    "sys.addaudithook",
    "threading.settrace",
    "threading.setprofile",
    "threading.settrace_all_threads",
    "threading.setprofile_all_threads",
    "traceback.extract_stack",
    "traceback.walk_stack",
    "traceback.format_stack",
    "traceback.print_stack",
    "traceback.StackSummary.extract",
    "linecache",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "ctypes.pythonapi",
}
FRAME_ATTRS = {
    "f_back",
    "f_locals",
    "f_globals",
    "f_code",
    "f_builtins",
    "f_trace",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ag_frame",
}
PLUGIN_ATTRS = {"pluginmanager", "ihook"}
# ready-made objects equal to anything
EQUAL_TO_ANYTHING = {"unittest.mock.ANY", "mock.ANY"}
EXIT_REFS = {
    "atexit",
    "signal.signal",
    "signal.setitimer",
    "signal.alarm",
    "os._exit",
    "os.abort",
    "os.kill",
    "os.killpg",
    "os.register_at_fork",
    "sys.exit",
    "sys.exitfunc",
    "sys.excepthook",
    "sys.unraisablehook",
    "threading.excepthook",
    "weakref.finalize",
    "builtins.exit",
    "builtins.quit",
    "builtins.SystemExit",
    "faulthandler",
}
# replaced from the code under test, these change what every test sees
MUTATION_REFS = {
    "builtins": IMPORT_HOOK,
    "sys.modules": IMPORT_HOOK,
    "unittest": INTERNALS,
    "_pytest": INTERNALS,
    "pluggy": INTERNALS,
    "pytest": INTERNALS,
}
# what a conftest.py may do while it is imported
# (``import pytest`` itself, and these names and what is inside them)
CONFTEST_IMPORT_TIME_OK = {
    "pytest.fixture",
    "pytest.mark",
    "pytest.param",
    "pytest.register_assert_rewrite",
}
# pytest's collection and reporting objects: a fixture has no business with them
PYTEST_MACHINERY = {
    "pytest.TestReport",
    "pytest.CollectReport",
    "pytest.CallInfo",
    "pytest.hookimpl",
    "pytest.hookspec",
    "pytest.PytestPluginManager",
    "pytest.Session",
    "pytest.main",
    "pytest.Item",
    "pytest.Collector",
    "pytest.Function",
    "pytest.Module",
    "pytest.Class",
    "pytest.Package",
    "pytest.File",
    "pytest.Dir",
    "pytest.Directory",
    "pytest.ExitCode",
}
HARNESS_SETTINGS = ("pytest_plugins", "collect_ignore", "collect_ignore_glob")
# calls that open, list or load files (by the callee's last name; join only as a path join)
FILE_CALLS = {
    "open",
    "Path",
    "PurePath",
    "PosixPath",
    "PurePosixPath",
    "WindowsPath",
    "joinpath",
    "listdir",
    "scandir",
    "walk",
    "glob",
    "iglob",
    "rglob",
    "read_text",
    "read_bytes",
    "exists",
    "isfile",
    "isdir",
    "is_file",
    "is_dir",
    "iterdir",
    "files",
    "getline",
    "getlines",
    "import_module",
    "__import__",
    "spec_from_file_location",
    "run_path",
    "run_module",
    "fromfile",
    "loadtxt",
    "fspath",
}
# a test file, folder or module in a path, a glob or a dotted name
TEST_PATH = re.compile(
    r"(?:^|[/\\.*])(?:tests?|testing|conftest|test_[\w*?-]*|[\w*?-]+_test)(?:[/\\.*]|$)"
)
TEST_MODULE = re.compile(r"^(?:tests?|testing|conftest|test_\w*|\w+_test)$")
OVERNIGHT_NAME = re.compile(r"OVERNIGHT\w*|(?i:overnight_\w*)|/proc/[^/\s]+/environ")
PYTEST_ENV = re.compile(r"^PYTEST_[A-Z_]+$")
PYTEST_DOTTED = re.compile(
    r"^(?:_pytest|pluggy)(?:\.\w+)*$|^pytest\.(?!ini$)[A-Za-z_]\w*(?:\.\w+)*$"
)
HOOK_NAME = re.compile(r"^pytest_(?!plugins$)[a-z_]+$")
PLUGIN_ENTRY_POINT = "pytest11"


def matches(ref: str, rules: set[str] | dict[str, str]) -> str | None:
    """The rule ``ref`` falls under: the name itself or one it is inside."""
    parts = ref.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in rules:
            return prefix
    return None


def in_family(ref: str, family: tuple[str, ...] = PYTEST_FAMILY) -> bool:
    return ref.split(".")[0] in family
