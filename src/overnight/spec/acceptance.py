"""The 'acceptance' list of a spec: pytest node ids, commands, and test patches
read from their files (see ``patch``), each problem on its item's line."""

from __future__ import annotations

import re

from overnight.spec.limits import control_character
from overnight.spec.model import Spec, TestPatch, patched_files
from overnight.spec.patch import PatchUnreadable, read_patch, unsafe_paths
from overnight.spec.problem import Problem
from overnight.spec.reader import Reader

ACCEPTANCE_KINDS = {"tests", "run", "test_patch"}
NODE_ID = re.compile(r"^[^\s:]+\.py(::.+)?$")


def read_acceptance(r: Reader, spec: Spec) -> None:
    """Fill the spec's acceptance tests, commands and test patches from 'acceptance'."""
    value = r.data.get("acceptance")
    if value is None:
        r.problems.append(
            Problem(
                2,
                "no acceptance criteria: add 'acceptance' with "
                "'tests:' node ids, 'run:' commands or a 'test_patch:'",
            )
        )
        return
    if not isinstance(value, list):
        r.error(
            "acceptance",
            "'acceptance' must be a list of items (- tests: ..., - run: ..., - test_patch: ...)",
        )
        return
    for i, item in enumerate(value):
        if isinstance(item, str):
            r.error(
                "acceptance",
                f"acceptance item '{item}' is not executable: write "
                "'- tests: <pytest node id>' or '- run: <command>'",
                i,
            )
            continue
        if not isinstance(item, dict) or not (ACCEPTANCE_KINDS & set(item)):
            r.error("acceptance", "acceptance item needs one of 'tests', 'run', 'test_patch'", i)
            continue
        for key in set(item) - ACCEPTANCE_KINDS - {"hidden"}:
            r.error("acceptance", f"unknown acceptance key '{key}'", i)
        _item(r, spec, item, i)
    reported = any(  # a warning on an item does not make it executable
        p.line in r.item_lines.get("acceptance", []) and p.severity == "error" for p in r.problems
    )
    if not (spec.acceptance_tests or spec.acceptance_commands) and not reported:
        r.error("acceptance", "acceptance has nothing to execute")


def _item(r: Reader, spec: Spec, item: dict, i: int) -> None:
    if "tests" in item:
        tests = item["tests"]
        tests = [tests] if isinstance(tests, str) else tests
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            r.error("acceptance", "'tests' must be a pytest node id or a list of them", i)
        else:
            for node in tests:
                if check_node_id(r, "acceptance", node, i):
                    spec.acceptance_tests.append(node.strip())
    if "run" in item:
        cmd = item["run"]
        if not isinstance(cmd, str) or not cmd.strip():
            r.error("acceptance", "'run' must be a non-empty shell command", i)
        else:
            spec.acceptance_commands.append(cmd.strip())
    if "hidden" in item and "test_patch" not in item:
        r.error("acceptance", "'hidden' applies only to a 'test_patch' item", i)
    if "test_patch" in item:
        _test_patch(r, spec, item, i)


def _test_patch(r: Reader, spec: Spec, item: dict, i: int) -> None:
    rel, hidden = item["test_patch"], item.get("hidden", False)
    if not isinstance(hidden, bool):
        r.error("acceptance", "'hidden' must be true or false", i)
    if not isinstance(rel, str):
        r.error("acceptance", "'test_patch' must be the path of a diff file", i)
        return
    path = (r.base_dir / rel).expanduser().absolute()
    try:
        text = read_patch(path)
    except PatchUnreadable as exc:
        r.error("acceptance", f"test_patch '{rel}' {exc}", i)
        return
    files = patched_files(text)
    if not files:
        r.error("acceptance", f"test_patch '{rel}' is not a unified diff", i)
        return
    unsafe = unsafe_paths(text)
    if unsafe:
        touched, what = unsafe[0]
        r.error(
            "acceptance",
            f"test_patch '{rel}' touches '{touched}', {what}: a test patch may only change "
            "files inside the repository (relative paths, none under .git/)",
            i,
        )
        return
    spec.test_patches.append(TestPatch(path=rel, text=text, hidden=bool(hidden)))
    if not any(t.split("::")[0] in files for t in spec.acceptance_tests + _later_tests(r.data)):
        r.warn(
            r.line("acceptance", i),
            f"test_patch '{rel}' adds tests but no "
            "'tests:' item names them: list the node ids that must pass",
        )


def check_node_id(r: Reader, key: str, node: str, i: int) -> bool:
    """Whether ``node`` is a pytest node id; if not, an error on item ``i`` of ``key``."""
    if NODE_ID.fullmatch(node.strip()) and not control_character(node.strip()):
        return True
    r.error(key, f"'{node}' is not a pytest node id (path/to/test_file.py::test_name)", i)
    return False


def _later_tests(data: dict) -> list[str]:
    items = data.get("acceptance")
    tests: list[str] = []
    for item in items if isinstance(items, list) else []:
        value = item.get("tests") if isinstance(item, dict) else None
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        tests += [v.strip() for v in values if isinstance(v, str)]
    return tests
