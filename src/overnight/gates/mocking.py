"""New tests that mock the very unit they test prove nothing.

A test the base did not have is flagged when it replaces a function or class
of the project itself (``mock.patch``, ``patch.object``, ``mocker.patch``,
``monkeypatch.setattr``, or a ``@patch`` decorator) and then calls that same
thing, or is named after it (``test_mul`` patching ``calc.mul``). Mocking a
collaborator (``requests.get`` around ``fetch()``) is not flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

PATCHERS = ("patch", "setattr")  # and patch.object


def self_mocks(
    path: str, before: str | None, after: str | None, is_local: Callable[[str], bool]
) -> list[str]:
    if not after:
        return []
    try:
        tree = ast.parse(after)
    except SyntaxError:
        return []
    old = set(_tests(ast.parse(before))) if before and _parses(before) else set()
    names = _imports(tree)
    findings = []
    for qualname, func in _tests(tree).items():
        if qualname in old:
            continue
        called = {_resolve(n.func, names) for n in ast.walk(func) if isinstance(n, ast.Call)}
        unit = func.name.removeprefix("test_")
        for target in sorted(_patched(func, names)):
            last = target.rsplit(".", 1)[-1]
            named = unit == last or unit.startswith(f"{last}_")
            if is_local(target) and (target in called or named):
                findings.append(
                    f"{path}::{qualname}: mocks {target}, the very unit it tests "
                    "(a test must run the real code)"
                )
    return findings


def _parses(source: str | None) -> bool:
    try:
        ast.parse(source or "")
    except SyntaxError:
        return False
    return True


def _tests(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    found[f"{node.name}::{item.name}"] = item
    return found


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it stands for."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _resolve(node: ast.AST, names: dict[str, str]) -> str:
    if isinstance(node, ast.Name):
        return names.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        inner = _resolve(node.value, names)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _patched(func: ast.FunctionDef | ast.AsyncFunctionDef, names: dict[str, str]) -> set[str]:
    """Dotted names the test replaces, from patch calls in its body and decorators."""
    found = set()
    calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)]
    calls += [d for d in func.decorator_list if isinstance(d, ast.Call)]
    for call in calls:
        parts = _resolve(call.func, names).split(".")
        if not call.args or not (parts[-1] in PATCHERS or parts[-2:] == ["patch", "object"]):
            continue
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)  # patch("calc.mul"), monkeypatch.setattr("calc.mul", ...)
        elif (
            len(call.args) > 1
            and isinstance(call.args[1], ast.Constant)
            and isinstance(call.args[1].value, str)
        ):
            owner = _resolve(first, names)  # patch.object(calc, "mul")
            if owner:
                found.add(f"{owner}.{call.args[1].value}")
    return found
