"""pytest plugin loaded by overnight (``-p overnight_coverage``) to measure line
coverage of a few files while the tests run. Standalone on purpose, like
overnight_outcomes: it runs inside the project's environment.

Measuring starts when pytest loads this plugin, before conftest files and test
modules import the project's code, and stops at the end of the session.

OVERNIGHT_COVERAGE        file to write the JSON results to
OVERNIGHT_COVERAGE_FILES  JSON list of files (relative to the working directory)
OVERNIGHT_COVERAGE_SHIM   a directory holding overnight's own coverage.py, used
                          when the project's environment has none
"""

import json
import os
import sys
from typing import Any

_state: dict[str, Any] = {"cov": None, "error": None, "files": []}


def _start():
    path = os.environ.get("OVERNIGHT_COVERAGE_FILES")
    if not path:
        return
    with open(path) as f:
        _state["files"] = json.load(f)
    try:
        import coverage
    except ImportError:
        shim = os.environ.get("OVERNIGHT_COVERAGE_SHIM")
        if shim:
            sys.path.append(shim)
        try:
            import coverage
        except ImportError as exc:
            _state["error"] = f"coverage.py cannot be imported in the test environment: {exc}"
            return
    try:
        cov = coverage.Coverage(data_file=None, include=_state["files"], config_file=False)
        cov.start()
    except Exception as exc:  # reported by the coverage gate as an error, never a pass
        _state["error"] = f"coverage.py did not start: {type(exc).__name__}: {exc}"
        return
    _state["cov"] = cov


_start()


def _loaded():
    """The real paths of the modules this process imported: a file imported with no line
    recorded shows that coverage.py was not measuring when it ran."""
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            found.add(os.path.realpath(path))
    return found


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("OVERNIGHT_COVERAGE")
    if not out:
        return
    result: dict[str, Any] = {"error": _state["error"], "files": {}}
    cov = _state["cov"]
    if cov is not None:
        cov.stop()
        loaded = _loaded()
        for name in _state["files"]:
            try:
                _, statements, _, missing, _ = cov.analysis2(name)
            except Exception as exc:  # e.g. a file that does not parse
                result["files"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            executed = sorted(set(statements) - set(missing))
            result["files"][name] = {
                "statements": sorted(statements),
                "executed": executed,
                "imported": os.path.realpath(name) in loaded,
            }
    with open(out, "w") as f:
        json.dump(result, f)
