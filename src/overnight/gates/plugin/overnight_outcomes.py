"""pytest plugin loaded by overnight (``-p overnight_outcomes``) to record
per-node-id outcomes. Standalone on purpose: it runs inside the project's
environment, where overnight itself is not installed.

OVERNIGHT_OUTCOMES  file to write the JSON results to
OVERNIGHT_SELECT    optional JSON list of node ids; only matching items run
                    (an id also selects its parametrizations and class members)
OVERNIGHT_FIRST     optional JSON list of node ids run before all others
OVERNIGHT_FAIL_FAST "1": stop the session as soon as one of those fails
"""

import json
import os

_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "failed": 3, "error": 4}
_results: dict = {}
_collect_errors: dict = {}
_state: dict = {"first": [], "session": None, "stopped": False}


def _selected(nodeid, wanted):
    if nodeid in wanted:
        return True
    return any(nodeid.startswith(want) and nodeid[len(want)] in "[:" for want in wanted)


def _load(name):
    path = os.environ.get(name)
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def pytest_sessionstart(session):
    _state["session"] = session
    _state["first"] = _load("OVERNIGHT_FIRST") or []


def pytest_collection_modifyitems(session, config, items):
    wanted = _load("OVERNIGHT_SELECT")
    if wanted is not None:
        keep = [item for item in items if _selected(item.nodeid, wanted)]
        dropped = [item for item in items if not _selected(item.nodeid, wanted)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    if _state["first"]:
        items.sort(key=lambda item: not _selected(item.nodeid, _state["first"]))


def pytest_collectreport(report):
    if report.failed:
        _collect_errors[report.nodeid or "<session>"] = _text(report)[:4000]


def pytest_runtest_logreport(report):
    if getattr(report, "wasxfail", None) is not None:
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.when == "call" or type(report).__name__ == "SubTestReport":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # setup or teardown failed
    elif report.skipped:
        outcome = "skipped"
    else:
        outcome = "passed"
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "message": "", "text": ""})
    if (
        report.failed
        and os.environ.get("OVERNIGHT_FAIL_FAST") == "1"
        and _selected(report.nodeid, _state["first"])
        and _state["session"] is not None
    ):
        _state["session"].shouldstop = "overnight: an acceptance test failed"
        _state["stopped"] = True
    if _RANK[outcome] > _RANK[entry["outcome"]]:
        entry["outcome"] = outcome
        if report.failed:
            entry["message"] = _message(report)
            entry["text"] = _text(report)[-3000:]
        elif report.skipped and isinstance(report.longrepr, tuple):
            entry["message"] = str(report.longrepr[2])


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("OVERNIGHT_OUTCOMES")
    if not path:
        return
    with open(path, "w") as f:
        json.dump(
            {
                "outcomes": _results,
                "collect_errors": _collect_errors,
                "exitstatus": int(exitstatus),
                "stopped": _state["stopped"],
            },
            f,
        )


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:500] if crash.message else ""
    return _text(report).strip().splitlines()[-1][:500] if _text(report).strip() else ""


def _text(report):
    try:
        return report.longreprtext
    except Exception:  # a broken longrepr must not lose the outcome
        return str(report.longrepr)
