"""A test module's twin, for tamper evidence (gates/canary.py builds on it): the
module with its tests replaced by mutants (gates/mutant.py) and nothing else of
them left to collect.

Everything else of the original stays (imports, helpers, fixtures, classes), so
the mutants see what the tests saw. A test not mutated is dropped, or kept with
``__test__ = False`` when something in the module refers to it.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
from dataclasses import dataclass

Func = ast.FunctionDef | ast.AsyncFunctionDef
Place = tuple[str, ...]  # a test's place in its module: ("TestCalc", "test_add")


@dataclass(frozen=True)
class Collection:
    """pytest's collection patterns (``python_files``, ``python_classes``,
    ``python_functions``), as the base's configuration sets them."""

    files: tuple[str, ...] = ("test_*.py", "*_test.py")
    classes: tuple[str, ...] = ("Test",)
    functions: tuple[str, ...] = ("test",)


# -- finding the tests of a module -------------------------------------------------


def find_tests(tree: ast.Module, collection: Collection) -> dict[Place, Func]:
    """Every test function or method pytest would collect from the module's own
    definitions, methods a test class inherits from classes of the module included
    (tests inherited from elsewhere, or generated, are not found)."""
    found: dict[Place, Func] = {}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    unittest = _unittest_classes(tree)
    for node in tree.body:
        if isinstance(node, Func) and _is_test(node, collection.functions):
            found[(node.name,)] = node
        elif isinstance(node, ast.ClassDef) and _is_test_class(node, collection, unittest):
            found.update(_class_tests(node, (), collection, node.name in unittest, classes))
    return found


def _class_tests(
    cls: ast.ClassDef, prefix: Place, collection: Collection, unittest: bool, classes: dict
) -> dict[Place, Func]:
    path = (*prefix, cls.name)
    patterns = ("test",) if unittest else collection.functions
    found = {(*path, n): f for n, f in _methods(cls, classes).items() if _is_test(f, patterns)}
    for node in cls.body:
        if (
            isinstance(node, ast.ClassDef)
            and not unittest
            and _matches(node.name, collection.classes)
        ):
            found.update(_class_tests(node, path, collection, False, classes))
    return found


def _methods(cls: ast.ClassDef, classes: dict, seen: tuple[str, ...] = ()) -> dict[str, Func]:
    """A class's functions: its own, then those it inherits from classes of the module
    (first base first), unless its body assigns the name."""
    methods: dict[str, Func] = {n.name: n for n in cls.body if isinstance(n, Func)}
    assigned = {
        t.id
        for n in cls.body
        if isinstance(n, ast.Assign | ast.AnnAssign)
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        if isinstance(t, ast.Name)
    }
    for base in cls.bases:
        parent = classes.get(base.id) if isinstance(base, ast.Name) else None
        if parent is not None and parent.name not in (*seen, cls.name):
            for name, func in _methods(parent, classes, (*seen, cls.name)).items():
                if name not in assigned:
                    methods.setdefault(name, func)
    return methods


def _is_test(func: Func, patterns: tuple[str, ...]) -> bool:
    return _matches(func.name, patterns) and not any(
        terminal(d) in ("fixture", "yield_fixture") for d in func.decorator_list
    )


def _is_test_class(cls: ast.ClassDef, collection: Collection, unittest: set[str]) -> bool:
    return cls.name in unittest or _matches(cls.name, collection.classes)


def _unittest_classes(tree: ast.Module) -> set[str]:
    """Module-level classes deriving (here or through another of them) from a *TestCase."""
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if cls.name not in found and any(
                terminal(b).endswith("TestCase") or terminal(b) in found for b in cls.bases
            ):
                found.add(cls.name)
                changed = True
    return found


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    """pytest's rule for python_classes and python_functions: a prefix, or a glob."""
    return any(
        name.startswith(p) or (any(c in p for c in "*?[") and fnmatch.fnmatchcase(name, p))
        for p in patterns
    )


def terminal(node: ast.expr) -> str:
    """``pytest.fixture(scope=...)`` -> ``fixture``; ``unittest.TestCase`` -> ``TestCase``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


# -- the twin module ----------------------------------------------------------------


def twin(tree: ast.Module, tests: dict[Place, Func], mutants: dict[Place, Func]) -> ast.Module:
    """The module with its tests replaced: mutants where given, the rest gone. A
    mutant of an inherited test is defined in the class that inherits it, and the
    class it comes from loses it (as a mixin, it would pass it on)."""
    drop = set(tests) | _origins(tree, tests)
    hosts = {path[:i] for path in drop for i in range(1, len(path))}
    twin = _Twin(drop, hosts, mutants, _referenced(tree))
    return ast.Module(twin.strip(tree.body, ()), [])


def _origins(tree: ast.Module, tests: dict[Place, Func]) -> set[Place]:
    """Where inherited tests are defined: (base class, method)."""
    where = {
        id(f): (c.name, f.name)
        for c in tree.body
        if isinstance(c, ast.ClassDef)
        for f in c.body
        if isinstance(f, Func)
    }
    return {where[id(func)] for func in tests.values() if id(func) in where}


@dataclass
class _Twin:
    drop: set[Place]  # tests (and where inherited ones come from)
    hosts: set[Place]  # classes holding some of them
    mutants: dict[Place, Func]
    referenced: set[str]

    def strip(self, body: list[ast.stmt], prefix: Place) -> list[ast.stmt]:
        kept: list[ast.stmt] = []
        for node in body:
            path = (*prefix, getattr(node, "name", ""))
            if isinstance(node, Func) and path in self.drop:
                kept.extend(self._test(node, path))
            elif isinstance(node, ast.ClassDef) and path in self.hosts:
                if node.name in self.referenced or self._hosts_mutant(path):
                    kept.append(self._host(node, path))
            else:
                kept.append(node)
        return kept

    def _hosts_mutant(self, path: Place) -> bool:
        return any(p[: len(path)] == path for p in self.mutants)

    def _test(self, node: Func, path: Place) -> list[ast.stmt]:
        if path in self.mutants:
            return [self.mutants[path]]
        if node.name not in self.referenced:
            return []
        if all(_is_mark(d) for d in node.decorator_list):  # safe to set an attribute
            return [node, _assign_false(node.name)]
        return [node]

    def _host(self, node: ast.ClassDef, path: Place) -> ast.ClassDef:
        cls = copy.copy(node)
        cls.body = self.strip(node.body, path)
        own = {getattr(n, "name", None) for n in node.body}
        cls.body += [m for p, m in self.mutants.items() if p[:-1] == path and p[-1] not in own]
        cls.body = cls.body or [ast.Pass()]
        return cls


def _is_mark(decorator: ast.expr) -> bool:
    """``pytest.mark.x``, ``pytest.mark.x(...)``, ``mark.x``: returns the function itself."""
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    while isinstance(node, ast.Attribute):
        if node.attr == "mark" or (isinstance(node.value, ast.Name) and node.value.id == "mark"):
            return True
        node = node.value
    return False


def _assign_false(name: str) -> ast.stmt:
    target = ast.Attribute(ast.Name(name, ast.Load()), "__test__", ast.Store())
    return ast.Assign([target], ast.Constant(False), lineno=0)


def _referenced(tree: ast.Module) -> set[str]:
    """Every name the module mentions: loaded names, attributes, identifier strings."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return names
