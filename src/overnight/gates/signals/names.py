"""What a name in the code refers to, through the ways a cheat spells it.

``Names(tree).refs(node)`` gives the dotted names (``sys._getframe``,
``_pytest.reports.TestReport``) an expression refers to, following:
imports and their aliases (``import inspect as i``, ``from sys import
_getframe as g``), assignments of references (``s = sys``, ``f = s._getframe``),
``getattr``/``setattr``/``attrgetter``, ``__import__`` and
``importlib.import_module``, ``sys.modules[...]`` and ``sys.modules.get``,
``vars(m)[...]`` and ``m.__dict__[...]``, ``__builtins__`` — with any string
in them folded (``values.py``). Builtins are named ``builtins.X``; a local
variable keeps its own name (``frame.f_back``), so a rule can still look at the
last attribute. Assignments are collected flow-insensitively: a name that is
bound to several things refers to all of them.
"""

from __future__ import annotations

import ast
import builtins

from overnight.gates.signals.values import Folder

BUILTINS = set(dir(builtins))
GETATTR = {
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.hasattr",
    "inspect.getattr_static",
    "object.__getattribute__",
    "builtins.object.__getattribute__",
    "object.__setattr__",
    "builtins.object.__setattr__",
}
IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
MODULE_GETTERS = {
    "sys.modules.get",
    "sys.modules.pop",
    "sys.modules.setdefault",
    "sys.modules.__getitem__",
    "sys.modules.__setitem__",
}
MAX_REFS = 8


class Names:
    def __init__(self, tree: ast.AST) -> None:
        self.aliases: dict[str, set[str]] = {}
        self.folder = Folder(self.refs)
        self._bindings = list(_bindings(tree))
        for _ in range(3):  # aliases of aliases: a few rounds reach a fixed point
            if not self._collect():
                break

    def refs(self, node: ast.AST) -> set[str]:
        """The dotted names ``node`` refers to (empty when it is not a reference)."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id == "__builtins__":
                return {"builtins"}
            return {f"builtins.{node.id}" if node.id in BUILTINS else node.id}
        if isinstance(node, ast.Attribute):
            return _cap({f"{base}.{node.attr}" for base in self.refs(node.value) or {"?"}})
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        return set()

    def strings(self, node: ast.AST) -> set[str]:
        return self.folder.strings(node)

    def _call(self, node: ast.Call) -> set[str]:
        callee = self.refs(node.func)
        args = node.args
        if callee & GETATTR and len(args) >= 2:
            return _cap(
                {f"{base}.{name}" for base in self.refs(args[0]) for name in self.strings(args[1])}
            )
        if callee & IMPORTERS and args:
            return {name for name in self.strings(args[0]) if not name.startswith(".")}
        if callee & MODULE_GETTERS and args:
            return self.strings(args[0])
        if callee & {"builtins.vars"} and args:
            return {f"{base}.__dict__" for base in self.refs(args[0])}
        if (
            isinstance(node.func, ast.Call)
            and len(args) == 1
            and self.refs(node.func.func) & {"operator.attrgetter"}
            and node.func.args
        ):
            return _cap(
                {
                    f"{base}.{name}"
                    for base in self.refs(args[0])
                    for name in self.strings(node.func.args[0])
                }
            )
        return set()

    def _subscript(self, node: ast.Subscript) -> set[str]:
        bases = self.refs(node.value)
        keys = self.strings(node.slice)
        if not keys:
            return set()
        if "sys.modules" in bases:
            return keys
        out = set()
        for base in bases:
            owner = base.removesuffix(".__dict__")
            if owner != base or owner == "builtins":
                out |= {f"{owner}.{key}" for key in keys}
            elif base == "builtins.globals" or base == "builtins.locals":
                out |= keys
        return _cap(out)

    def _collect(self) -> bool:
        """One round over the bindings; whether anything new was learnt."""
        changed = False
        for name, value, module in self._bindings:
            if module is not None:
                found = {module}
            else:
                found = self._meaning(value)
                strings = self.folder.values(value) if value is not None else set()
                if strings - self.folder.constants.get(name, set()):
                    self.folder.constants.setdefault(name, set()).update(strings)
                    self.folder.forget()
                    changed = True
            if found - self.aliases.get(name, set()):
                self.aliases[name] = _cap(self.aliases.get(name, set()) | found)
                changed = True
        return changed

    def _meaning(self, value: ast.expr | None) -> set[str]:
        """What a bound value refers to, when it is a reference to something named."""
        if value is None:
            return set()
        found = self.refs(value)
        if isinstance(value, ast.Name) and not (
            value.id in self.aliases or found & GETATTR or value.id == "__builtins__"
        ):
            return {f for f in found if f.startswith("builtins.")}
        return {f for f in found if not f.startswith("?")}


def _bindings(tree: ast.AST):
    """(name, value, module) for each binding: imports give the module, assignments
    (plain, annotated, walrus, tuple to tuple, defaults of parameters) the value."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    yield alias.asname, None, alias.name
                else:
                    top = alias.name.split(".")[0]
                    yield top, None, top
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                if alias.name != "*":
                    yield alias.asname or alias.name, None, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                yield from _pairs(target, node.value)
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            yield from _pairs(node.target, node.value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            positional = node.args.posonlyargs + node.args.args
            for arg, default in zip(positional[::-1], node.args.defaults[::-1], strict=False):
                yield arg.arg, default, None
            for arg, kw_default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                if kw_default is not None:
                    yield arg.arg, kw_default, None


def _pairs(target: ast.expr, value: ast.expr):
    if isinstance(target, ast.Name):
        yield target.id, value, None
    elif (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    ):
        for t, v in zip(target.elts, value.elts, strict=True):
            yield from _pairs(t, v)


def _cap(found: set[str]) -> set[str]:
    return set(sorted(found)[:MAX_REFS])
