"""Signal 5: objects that compare equal to anything.

``assert result == expected`` passes whatever ``expected`` is when ``result``
is an object whose ``__eq__`` always answers true. Found without running the
code: a comparison method (``__eq__``, ``__contains__``, ``__instancecheck__``,
``__subclasscheck__``) every ``return`` of which is truthy (``True``, ``1``,
``not False``, ``x or True``, ``self`` of a class that is always truthy, an
object of such a class), ``__ne__`` that is always falsy, whether defined with
``def``, a lambda (``lambda *a: True``), a module function assigned to it,
``setattr`` or a ``type(...)`` dict; a subclass of int, str, float... that
overrides ``__eq__``; and, beside an ``__eq__`` override, a ``__hash__`` that
returns a constant or a rigged ``__bool__``.
"""

from __future__ import annotations

import ast

from overnight.gates.signals.hit import Hit
from overnight.gates.signals.names import Names
from overnight.gates.signals.rules import ALWAYS_EQUAL

ALWAYS_TRUE = ("__eq__", "__contains__", "__instancecheck__", "__subclasscheck__")
ALWAYS_FALSE = ("__ne__",)
# scalars a test compares a result with
VALUE_TYPES = {
    "builtins.int",
    "builtins.str",
    "builtins.float",
    "builtins.bytes",
    "builtins.complex",
    "decimal.Decimal",
    "fractions.Fraction",
}
Callable = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def equality_hits(tree: ast.Module, names: Names) -> list[Hit]:
    truth = _Truth(tree, names)
    hits: list[Hit] = []
    for cls in truth.classes.values():
        hits += truth.class_hits(cls)
    for node in ast.walk(tree):
        for dunder, value in _bound_outside_classes(node, names):
            if truth.rigged(dunder, value, None):
                hits.append(Hit(ALWAYS_EQUAL, f"`{dunder}` {_verdict(dunder)}", node.lineno))  # type: ignore[attr-defined]
    return hits


def _verdict(dunder: str) -> str:
    return "always returns false" if dunder in ALWAYS_FALSE else "always returns true"


def _bound_outside_classes(node: ast.AST, names: Names) -> list[tuple[str, ast.expr]]:
    """(dunder, value) for ``X.__eq__ = v``, ``setattr(X, "__eq__", v)``, ``{"__eq__": v}``."""
    watched = set(ALWAYS_TRUE + ALWAYS_FALSE)
    if isinstance(node, ast.Assign):
        return [
            (t.attr, node.value)
            for t in node.targets
            if isinstance(t, ast.Attribute) and t.attr in watched
        ]
    if (
        isinstance(node, ast.Call)
        and len(node.args) == 3
        and names.refs(node.func) & {"builtins.setattr"}
    ):
        return [(s, node.args[2]) for s in names.strings(node.args[1]) if s in watched]
    if isinstance(node, ast.Dict):
        return [
            (s, v)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
            for s in names.strings(k)
            if s in watched
        ]
    return []


class _Truth:
    """What the module's functions and classes always return."""

    def __init__(self, tree: ast.Module, names: Names) -> None:
        self.names = names
        self.classes = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        self.functions: dict[str, Callable] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[node.name] = node
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.functions[target.id] = node.value
        self._depth = 0

    def class_hits(self, cls: ast.ClassDef) -> list[Hit]:
        methods = _methods(cls)
        hits = []
        for dunder, value in methods.items():
            if dunder in ALWAYS_TRUE + ALWAYS_FALSE and self.rigged(dunder, value, cls):
                hits.append(
                    Hit(ALWAYS_EQUAL, f"`{cls.name}.{dunder}` {_verdict(dunder)}", value.lineno)
                )
        if "__eq__" not in methods and "__ne__" not in methods:
            return hits
        bases = {ref for b in cls.bases for ref in self.names.refs(b)} & VALUE_TYPES
        eq = methods.get("__eq__") or methods["__ne__"]
        for base in sorted(bases):
            shown = base.removeprefix("builtins.")
            hits.append(
                Hit(
                    ALWAYS_EQUAL,
                    f"`{cls.name}` subclasses `{shown}` and overrides equality",
                    eq.lineno,
                )
            )
        hashing = methods.get("__hash__")
        if hashing is not None and self._constant(hashing):
            hits.append(
                Hit(
                    ALWAYS_EQUAL,
                    f"`{cls.name}.__hash__` returns a constant beside a custom `__eq__`",
                    hashing.lineno,
                )
            )
        boolean = methods.get("__bool__")
        if hits and boolean is not None and self.always(boolean, True, cls):
            hits.append(
                Hit(ALWAYS_EQUAL, f"`{cls.name}.__bool__` always returns true", boolean.lineno)
            )
        return hits

    def rigged(self, dunder: str, value: ast.expr | ast.stmt, cls: ast.ClassDef | None) -> bool:
        return self.always(value, dunder not in ALWAYS_FALSE, cls)

    def always(self, value: ast.AST, truthy: bool, cls: ast.ClassDef | None) -> bool:
        """Whether calling ``value`` always gives a truthy (or falsy) result."""
        if self._depth > 8:
            return False
        self._depth += 1
        try:
            if isinstance(value, ast.Name):
                target = self.functions.get(value.id) or (
                    _methods(cls).get(value.id) if cls else None
                )
                return target is not None and self.always(target, truthy, cls)
            if isinstance(value, ast.Lambda):
                return self._is(value.body, truthy, cls, _self_name(value))
            if isinstance(value, ast.FunctionDef | ast.AsyncFunctionDef):
                returns = list(_returns(value))
                me = _self_name(value) if cls else None
                return bool(returns) and all(
                    self._is(r.value, truthy, cls, me) if r.value else not truthy for r in returns
                )
            return False
        finally:
            self._depth -= 1

    def _is(self, expr: ast.expr, truthy: bool, cls: ast.ClassDef | None, me: str | None) -> bool:
        """Whether ``expr`` is always truthy (``truthy``) or always falsy."""
        if isinstance(expr, ast.Constant):
            return bool(expr.value) is truthy
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            return self._is(expr.operand, not truthy, cls, me)
        if isinstance(expr, ast.BoolOp):
            short = isinstance(expr.op, ast.Or) is truthy  # `x or True`, `x and False`
            check = any if short else all
            return check(self._is(v, truthy, cls, me) for v in expr.values)
        if isinstance(expr, ast.List | ast.Tuple | ast.Set):
            return bool(expr.elts) is truthy
        if isinstance(expr, ast.Dict):
            return bool(expr.keys) is truthy
        if isinstance(expr, ast.IfExp):
            return self._is(expr.body, truthy, cls, me) and self._is(expr.orelse, truthy, cls, me)
        if isinstance(expr, ast.NamedExpr):
            return self._is(expr.value, truthy, cls, me)
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1:
            same = ast.dump(expr.left) == ast.dump(expr.comparators[0])
            reflexive = isinstance(expr.ops[0], ast.Eq | ast.Is | ast.LtE | ast.GtE)
            return same and reflexive is truthy
        if isinstance(expr, ast.Name) and expr.id == me and cls is not None:
            return truthy and self._instances_truthy(cls)
        if isinstance(expr, ast.Call):
            return self._call_is(expr, truthy, cls, me)
        values = self.names.folder.values(expr)
        return bool(values) and all(bool(v) is truthy for v in values)

    def _call_is(
        self, call: ast.Call, truthy: bool, cls: ast.ClassDef | None, me: str | None
    ) -> bool:
        refs = self.names.refs(call.func)
        if "builtins.bool" in refs and len(call.args) == 1:
            return self._is(call.args[0], truthy, cls, me)
        if "builtins.object" in refs:
            return truthy
        made = self.classes.get(call.func.id) if isinstance(call.func, ast.Name) else None
        if isinstance(call.func, ast.Call) and "builtins.type" in self.names.refs(call.func.func):
            made = cls  # type(self)(...)
        return truthy and made is not None and self._instances_truthy(made)

    def _instances_truthy(self, cls: ast.ClassDef) -> bool:
        """An instance of ``cls`` is always truthy: no base with a truth of its own,
        and no ``__bool__``/``__len__`` or a ``__bool__`` that is always true."""
        if any(self.names.refs(b) - {"builtins.object"} for b in cls.bases):
            return False
        methods = _methods(cls)
        if "__len__" in methods:
            return False
        boolean = methods.get("__bool__")
        return boolean is None or self.always(boolean, True, cls)

    def _constant(self, func: ast.AST) -> bool:
        """Always the same hash (``return None`` is not one: it makes the object unhashable)."""
        if isinstance(func, ast.Lambda):
            return _int(func.body)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            returns = list(_returns(func))
            return bool(returns) and all(_int(r.value) for r in returns)
        return False


def _int(expr: ast.expr | None) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) is int


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.expr]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.expr] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            found[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = stmt.value
    return found


def _returns(func: ast.FunctionDef | ast.AsyncFunctionDef):
    """The function's own return statements (not those of functions inside it)."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            yield node
        elif not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        ):
            todo.extend(ast.iter_child_nodes(node))


def _self_name(func: Callable) -> str | None:
    args = func.args.posonlyargs + func.args.args
    return args[0].arg if args else None
