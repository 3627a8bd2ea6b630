"""A test's mutant, for tamper evidence (gates/canary.py builds on it).

A mutant keeps a test's name, decorators and fixtures, but one assertion of its
own body now expects a fresh random value, is followed by ``return``, and the
body ends in ``raise AssertionError``. Honest code fails it (it does not compute
the fresh value); code that mirrors whatever the test expects, or returns an
object equal to anything, passes it. Every other way out of the body raises,
so a mutated assertion that is never reached, or whose failure something
swallows, still fails: no false alarm.
"""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeGuard

from overnight.gates.twin import Func, terminal

Scalar = int | float | str | bytes

EQUAL_METHODS = frozenset(
    {
        "assertEqual",
        "assertEquals",
        "failUnlessEqual",
        "assertAlmostEqual",
        "assertAlmostEquals",
        "assertDictEqual",
        "assertListEqual",
        "assertTupleEqual",
        "assertSetEqual",
        "assertSequenceEqual",
        "assertMultiLineEqual",
        "assertCountEqual",
    }
)
TRUE_METHODS = frozenset({"assertTrue", "assert_", "failUnless"})
# a block under one of these expects an exception, or swallows a failed assertion and
# goes on (subtests: a loop of them would report every one): no site in it
NO_SITES = frozenset(
    {
        "raises",
        "warns",
        "deprecated_call",
        "assertRaises",
        "assertRaisesRegex",
        "assertRaisesRegexp",
        "assertWarns",
        "assertWarnsRegex",
        "subTest",
        "suppress",
    }
)
# generated names and values must not give the game away
GIVEAWAYS = ("canary", "overnight", "mutant", "mutat", "tamper", "decoy")
ONSETS = (
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "ch",
    "cl",
    "dr",
    "fl",
    "gr",
    "pl",
    "pr",
    "sh",
    "st",
    "tr",
)
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ia", "io")
CODAS = ("", "", "", "n", "r", "l", "s", "m", "nd", "rt")
UNREACHED = (
    "expected value was not checked",
    "the comparison did not run",
    "result was never compared",
    "no assertion ran",
)


@dataclass(frozen=True)
class Mutant:
    func: Func | None  # None: no mutant, for the reason in ``why``
    why: str = ""


# -- mutating one test ----------------------------------------------------------------


def mutate(func: Func, rng: random.Random) -> Mutant:
    """The mutant of ``func`` (a copy), or why it has none."""
    if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(func)):
        return Mutant(None, "a generator test")
    mutant = copy.deepcopy(func)
    _returns_raise(mutant, rng)
    sites = list(_sites(mutant.body))
    equal = [s for s in sites if _form(s[0][s[1]]) == "equal"]
    if not sites:
        return Mutant(
            None,
            "no assertion of a form that can be mutated (==, assertEqual, "
            "assert/assertTrue on a call or name) in its own body",
        )
    body, index = rng.choice(equal or sites)
    _mutate_assertion(body[index], rng, _samples(func))
    if body is not mutant.body:  # a nested block: the assertion may never run
        body.insert(index + 1, ast.Return())
        mutant.body.append(_raise(rng))
    elif index + 1 < len(body):
        body.insert(index + 1, ast.Return())
    return Mutant(ast.fix_missing_locations(mutant))


def _own_nodes(func: Func) -> Iterator[ast.AST]:
    """The nodes of ``func``'s body, not those of functions, lambdas or classes in it."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, Func | ast.Lambda | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))


def _returns_raise(func: Func, rng: random.Random) -> None:
    """Every ``return`` of the test's own body raises instead: leaving early is not passing."""

    class Swap(ast.NodeTransformer):
        def visit_Return(self, node: ast.Return) -> ast.stmt:
            return ast.copy_location(_raise(rng), node)

        def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
            return node

        def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AsyncFunctionDef:
            return node

        def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
            return node

        def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
            return node

    swap = Swap()
    func.body = [swap.visit(stmt) for stmt in func.body]


def _raise(rng: random.Random) -> ast.stmt:
    error = ast.Call(
        ast.Name("AssertionError", ast.Load()), [ast.Constant(rng.choice(UNREACHED))], []
    )
    return ast.Raise(error, None)


def _sites(body: list[ast.stmt]) -> Iterator[tuple[list[ast.stmt], int]]:
    """Assertions of a mutable form in this block or blocks nested in it (not in
    nested functions or classes, nor under ``pytest.raises`` or ``subTest``)."""
    for index, stmt in enumerate(body):
        if _form(stmt):
            yield body, index
        for block in _blocks(stmt):
            yield from _sites(block)


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    if isinstance(stmt, ast.If | ast.For | ast.AsyncFor | ast.While):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return [] if any(_no_sites(item.context_expr) for item in stmt.items) else [stmt.body]
    if isinstance(stmt, ast.Try | ast.TryStar):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    if isinstance(stmt, ast.Match):
        return [case.body for case in stmt.cases]
    return []


def _no_sites(manager: ast.expr) -> bool:
    """``pytest.raises(...)``, ``self.subTest(...)``, ``subtests.test(...)``..."""
    call = manager.func if isinstance(manager, ast.Call) else manager
    subtests = isinstance(call, ast.Attribute) and terminal(call.value) == "subtests"
    return subtests or terminal(manager) in NO_SITES


def _form(stmt: ast.stmt) -> str | None:
    """``equal`` (assert a == b, assertEqual), ``truth`` (assert f(), assertTrue), or None."""
    if isinstance(stmt, ast.Assert):
        test = stmt.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            return "equal"
        return "truth" if isinstance(test, ast.Call | ast.Name | ast.Attribute) else None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if not isinstance(call.func, ast.Attribute) or any(
            isinstance(a, ast.Starred) for a in call.args
        ):
            return None
        if call.func.attr in EQUAL_METHODS and len(call.args) >= 2:
            return "equal"
        if call.func.attr in TRUE_METHODS and call.args:
            return "truth"
    return None


def _mutate_assertion(stmt: ast.stmt, rng: random.Random, samples: dict[str, list]) -> None:
    if isinstance(stmt, ast.Assert):
        if isinstance(stmt.test, ast.Compare):
            pair = [stmt.test.left, stmt.test.comparators[0]]
            side = _expected_side(*pair)
            pair[side] = fresh_expr(pair[side], rng, samples)
            stmt.test.left, stmt.test.comparators[0] = pair
        else:
            stmt.test = ast.Compare(stmt.test, [ast.Eq()], [ast.Constant(phrase(rng))])
        return
    assert isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
    args = stmt.value.args
    if _form(stmt) == "equal":
        side = _expected_side(args[0], args[1])
        args[side] = fresh_expr(args[side], rng, samples)
    else:
        args[0] = ast.Compare(args[0], [ast.Eq()], [ast.Constant(phrase(rng))])


def _samples(func: Func) -> dict[str, list]:
    """The values each name may hold, from the test's parametrize marks and the literals
    its own body assigns: ``want`` in ``parametrize("a, want", [(1, 2)])`` -> [2]."""
    samples: dict[str, list] = {}
    for decorator in func.decorator_list:
        if not (isinstance(decorator, ast.Call) and terminal(decorator) == "parametrize"):
            continue
        if len(decorator.args) < 2 or not _is_literal(decorator.args[0]):
            continue
        names = ast.literal_eval(decorator.args[0])
        if not isinstance(names, str | list | tuple):
            continue
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = decorator.args[1]
        for row in rows.elts if isinstance(rows, ast.List | ast.Tuple) else []:
            if isinstance(row, ast.Call) and terminal(row) == "param":
                if not row.args:
                    continue
                row = ast.Tuple(row.args, ast.Load()) if len(names) > 1 else row.args[0]
            values = row.elts if len(names) > 1 and isinstance(row, ast.List | ast.Tuple) else [row]
            for name, value in zip(names, values, strict=False):
                if isinstance(name, str) and _is_literal(value):
                    samples.setdefault(name, []).append(ast.literal_eval(value))
    for node in _own_nodes(func):
        if isinstance(node, ast.Assign) and _is_literal(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    samples.setdefault(target.id, []).append(ast.literal_eval(node.value))
    return samples


def _expected_side(left: ast.expr, right: ast.expr) -> int:
    """Which side holds the expected value: the literal one, else the one that calls
    nothing when the other does, else the right."""
    literal = [_is_literal(left), _is_literal(right)]
    if literal[0] != literal[1]:
        return 0 if literal[0] else 1
    if not any(literal):
        calls = [_calls(left), _calls(right)]
        if calls[0] != calls[1]:
            return 1 if calls[0] else 0
    return 1


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _calls(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Call) for n in ast.walk(node))


# -- fresh values ---------------------------------------------------------------------


def fresh_expr(
    node: ast.expr, rng: random.Random, samples: dict[str, list] | None = None
) -> ast.expr:
    """A value in place of the expected ``node``, equal to nothing honest code computes:
    a literal of the same type (one leaf changed in a container; for a name, of the type
    of the values ``samples`` says it holds, and none of them), else a random string."""
    held = (samples or {}).get(node.id, []) if isinstance(node, ast.Name) else []
    if held and _scalar(held[0]):
        value = fresh_value(held[0], rng)
        while value in held:
            value = fresh_value(held[0], rng)
        return ast.Constant(value)
    if _is_literal(node) and isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
        changed = copy.deepcopy(node)
        leaves = list(_leaves(changed))
        if leaves:
            leaf, value = rng.choice(leaves)
            leaf.value = fresh_value(value, rng)
            return changed
        if not (changed.keys if isinstance(changed, ast.Dict) else changed.elts):
            return _filled(changed, rng)
    elif _is_literal(node):
        value = ast.literal_eval(node)
        if _scalar(value):
            return ast.Constant(fresh_value(value, rng))
    return ast.Constant(phrase(rng))


def _leaves(node: ast.AST) -> Iterator[tuple[ast.Constant, Scalar]]:
    for leaf in ast.walk(node):
        if isinstance(leaf, ast.Constant) and _scalar(leaf.value):
            yield leaf, leaf.value


def _scalar(value: object) -> TypeGuard[Scalar]:
    """A number or text: what ``fresh_value`` can replace (not a bool, None or ...)."""
    return isinstance(value, int | float | str | bytes) and not isinstance(value, bool)


def _filled(empty: ast.List | ast.Tuple | ast.Set | ast.Dict, rng: random.Random) -> ast.expr:
    if isinstance(empty, ast.Dict):
        return ast.Dict([ast.Constant(word(rng))], [ast.Constant(fresh_value(0, rng))])
    elts: list[ast.expr] = [ast.Constant(word(rng))]
    if isinstance(empty, ast.Set):
        return ast.Set(elts)
    return type(empty)(elts, ast.Load())


def fresh_value(old: Scalar, rng: random.Random) -> Scalar:
    """A random value of ``old``'s type that looks like real data and differs from it."""
    while True:
        new: Scalar
        if isinstance(old, int):
            digits = rng.randint(5, 9)
            new = rng.randint(10 ** (digits - 1), 10**digits - 1) * (-1 if old < 0 else 1)
        elif isinstance(old, float):
            new = round(rng.uniform(10, 99_999), rng.randint(1, 4)) * (-1 if old < 0 else 1)
        elif isinstance(old, bytes):
            new = phrase(rng, len(old.split()) or 1).encode()
        else:
            new = phrase(rng, min(len(old.split()), 4) or 1)
        if new != old:
            return new


def word(rng: random.Random) -> str:
    """A pronounceable made-up word: ``velmor``, ``trasik``."""
    while True:
        syllables = rng.randint(2, 3)
        text = "".join(
            rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
        )
        if 4 <= len(text) <= 10 and not any(g in text for g in GIVEAWAYS):
            return text


def phrase(rng: random.Random, words: int = 1) -> str:
    return " ".join(word(rng) for _ in range(words))
