"""pytest plugin loaded by overnight to report per-node-id outcomes. Standalone on
purpose: it runs inside the project's environment, where overnight itself is not
installed. overnight copies it under a fresh random module name for every run
(``-p overnight_outcomes_<token>``), so no file in the workspace can shadow it.

Outcomes travel on a channel the code under test cannot rewrite: a unix socket
the worker listens on and accepts exactly one connection from, which this
plugin opens when pytest imports it (before any conftest or test module). Each
record is sent as it happens (one JSON object per line); the worker keeps the
worst outcome reported for a node, so a record forged later cannot undo a
failure already sent. (Code under test can still lie inside the process; the
canary tests overnight adds make that visible.)

OVERNIGHT_OUTCOMES  the socket to connect to
OVERNIGHT_SELECT    optional JSON list of node ids; only matching items run
                    (an id also selects its parametrizations and class members)
OVERNIGHT_FIRST     optional JSON list of node ids run before all others
OVERNIGHT_FAIL_FAST "1": stop the session as soon as one of those fails
OVERNIGHT_PACKAGES  optional JSON list of the project's top-level import names:
                    where each was imported from is reported at the end
"""

import json
import os
import socket
import sys

_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 2, "failed": 3, "error": 4}
_results: dict = {}
_state: dict = {"first": [], "session": None, "stopped": False, "channel": None}


def _connect():
    path = os.environ.get("OVERNIGHT_OUTCOMES")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):  # xdist: the controller reports
        return None
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.connect(path)
    return channel


def _send(record):
    channel = _state["channel"]
    if channel is not None:
        channel.sendall((json.dumps(record) + "\n").encode())


_state["channel"] = _connect()
_send({"kind": "start", "pid": os.getpid()})


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
        node = report.nodeid or "<session>"
        _send({"kind": "collect_error", "node": node, "text": _text(report)[:4000]})


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
    _send({"kind": "outcome", "node": report.nodeid, **entry})


def pytest_sessionfinish(session, exitstatus):
    _send(
        {
            "kind": "finish",
            "exitstatus": int(exitstatus),
            "stopped": _state["stopped"],
            "imported": _imported(),
        }
    )


def _imported():
    """Where each of the project's packages was imported from (None: not imported)."""
    names = _load("OVERNIGHT_PACKAGES") or []
    found: dict = {}
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            found[name] = None
            continue
        where = getattr(module, "__file__", None) or next(
            iter(getattr(module, "__path__", [])), None
        )
        found[name] = os.path.realpath(where) if where else None
    return found


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
