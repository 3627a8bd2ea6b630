"""Strings the code builds without running it: constant folding for the signals.

A cheat hides a name from a plain text search by building it: ``"_py" +
"test"``, ``"".join(chr(c) for c in (95, 112, ...))``, ``b64decode("X3B5dGVzdA==")``,
``"tset_yp_"[::-1]``, an f-string of constants, a module constant used later.
``Folder.values(node)`` evaluates such an expression with a small interpreter
that knows only pure operations on str, bytes, ints and tuples of them (no
attribute access but whitelisted str/bytes methods, no call but whitelisted
decoders), bounded in steps and sizes. It returns every value the expression
can have (a name assigned several constants has several), or nothing when it
cannot tell.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import operator
import re
import zlib
from collections.abc import Callable, Iterator

MAX_LEN = 4096  # longest str/bytes/tuple the folder builds
MAX_STEPS = 20_000  # node evaluations per file
MAX_INT = 1 << 64
MAX_CHOICES = 8  # values kept for one expression

Value = str | bytes | int | bool | tuple
_BINOPS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Mod: operator.mod,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.FloorDiv: operator.floordiv,
}
_STR_METHODS = {
    "lower",
    "upper",
    "swapcase",
    "title",
    "capitalize",
    "casefold",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "removeprefix",
    "removesuffix",
    "decode",
    "encode",
    "join",
    "format",
    "hex",
    "translate",
    "zfill",
    "center",
    "ljust",
    "rjust",
    "split",
    "rsplit",
}


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def _decompress(data: bytes) -> bytes:
    return zlib.decompressobj().decompress(data, MAX_LEN)


def _codecs_decode(data: str | bytes, encoding: str = "utf-8", *_: object) -> str | bytes:
    name = encoding.lower().replace("-", "_")
    if name in ("rot13", "rot_13") and isinstance(data, str):
        return _rot13(data)
    if name in ("hex", "hex_codec", "base64", "base64_codec", "zlib", "zlib_codec"):
        raw = data.encode() if isinstance(data, str) else data
        return {"h": binascii.unhexlify, "b": base64.b64decode, "z": _decompress}[name[0]](raw)
    if isinstance(data, bytes):
        return data.decode(encoding)
    raise ValueError(encoding)


# pure functions a cheat decodes names with, by the dotted name they are called by
FUNCTIONS: dict[str, Callable[..., object]] = {
    "builtins.chr": chr,
    "builtins.ord": ord,
    "builtins.str": str,
    "builtins.int": int,
    "builtins.bytes": lambda *a: bytes(*_no_size(a)),
    "builtins.len": len,
    "builtins.bytearray": lambda *a: bytes(*_no_size(a)),
    "builtins.reversed": lambda x: tuple(reversed(x)),
    "builtins.tuple": tuple,
    "builtins.list": tuple,
    "builtins.sorted": lambda x: tuple(sorted(x)),
    "builtins.map": lambda f, *xs: tuple(map(f, *xs)),
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.a85decode": base64.a85decode,
    "base64.b85decode": base64.b85decode,
    "base64.decodebytes": base64.decodebytes,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "binascii.a2b_base64": binascii.a2b_base64,
    "bytes.fromhex": bytes.fromhex,
    "builtins.bytes.fromhex": bytes.fromhex,
    "zlib.decompress": _decompress,
    "codecs.decode": _codecs_decode,
    "codecs.encode": _codecs_decode,
}


class Unknown(Exception):
    """The folder cannot tell what an expression is."""


# what evaluating a constant expression of the code under test may raise
FAILURES = (
    Unknown,
    ValueError,
    TypeError,
    LookupError,
    OverflowError,
    MemoryError,
    ZeroDivisionError,
    AttributeError,
    binascii.Error,
    zlib.error,
    UnicodeError,
    RecursionError,
)


class Folder:
    """Evaluates constant expressions of one module. ``constants`` maps a name to
    the values it is assigned anywhere in the module; ``resolve`` names a callee
    (``b64decode`` -> ``base64.b64decode``)."""

    def __init__(self, resolve: Callable[[ast.expr], set[str]]) -> None:
        self.constants: dict[str, set[Value]] = {}
        self.resolve = resolve
        self.steps = 0
        self._depth = 0
        self._cache: dict[ast.AST, set[Value]] = {}  # by node: it keeps the node alive

    def values(self, node: ast.AST) -> set[Value]:
        """Every value ``node`` can have; empty when unknown."""
        key = node
        if key in self._cache:
            return self._cache[key]
        if self._depth == 0:
            self.steps = 0  # the budget is per outermost expression; inner ones are cached
        self._depth += 1
        self._cache[key] = set()  # a name defined by itself stays unknown
        try:
            self._cache[key] = set(self._eval(node, {}))
        except FAILURES:
            pass  # unknown: the empty set
        finally:
            self._depth -= 1
        return self._cache[key]

    def _sub(self, node: ast.AST, env: dict[str, Value]) -> Iterator[Value]:
        """A part of an expression: from the cache when no comprehension variable is bound."""
        if env:
            yield from self._eval(node, env)
            return
        found = self.values(node)
        if not found:
            raise Unknown(node)
        yield from list(found)[:MAX_CHOICES]

    def strings(self, node: ast.AST) -> set[str]:
        """The str values of ``node`` (bytes decoded as latin-1, so no byte is lost)."""
        out = set()
        for value in self.values(node):
            if isinstance(value, bytes):
                out.add(value.decode("latin-1"))
            elif isinstance(value, str):
                out.add(value)
        return out

    def forget(self) -> None:
        """Drop what was computed (after ``constants`` changed)."""
        self._cache.clear()

    # -- the interpreter -----------------------------------------------------

    def _eval(self, node: ast.AST, env: dict[str, Value]) -> Iterator[Value]:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise Unknown("too many steps")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes | int | bool):
                yield _bounded(node.value)
                return
            raise Unknown(node)
        if isinstance(node, ast.Name):
            if node.id in env:
                yield env[node.id]
                return
            choices = self.constants.get(node.id)
            if not choices:
                raise Unknown(node.id)
            yield from list(choices)[:MAX_CHOICES]
            return
        if isinstance(node, ast.JoinedStr):
            yield from self._joined(node, env)
            return
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            yield from self._product([n for n in node.elts], env, lambda *xs: _bounded(tuple(xs)))
            return
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise Unknown(node.op)
            yield from self._product([node.left, node.right], env, lambda a, b: _apply(op, a, b))
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Invert | ast.Not):
            for v in self._sub(node.operand, env):
                yield _unary(node.op, v)
            return
        if isinstance(node, ast.Subscript):
            yield from self._subscript(node, env)
            return
        if isinstance(node, ast.Call):
            yield from self._call(node, env)
            return
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            yield self._comprehension(node, env)
            return
        if isinstance(node, ast.IfExp):
            yield from self._sub(node.body, env)
            yield from self._sub(node.orelse, env)
            return
        raise Unknown(node)

    def _product(
        self, nodes: list[ast.expr], env: dict[str, Value], combine: Callable[..., Value]
    ) -> Iterator[Value]:
        combos: list[tuple[Value, ...]] = [()]
        for n in nodes:
            if isinstance(n, ast.Starred):
                raise Unknown(n)
            options = list(self._sub(n, env))[:MAX_CHOICES]
            combos = [(*c, v) for c in combos for v in options][:MAX_CHOICES]
        for combo in combos:
            yield combine(*combo)

    def _joined(self, node: ast.JoinedStr, env: dict[str, Value]) -> Iterator[Value]:
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, ord("s")):
                    raise Unknown(value)
                parts.append(value.value)
            else:
                parts.append(value)
        yield from self._product(parts, env, lambda *xs: _bounded("".join(map(str, xs))))

    def _subscript(self, node: ast.Subscript, env: dict[str, Value]) -> Iterator[Value]:
        for base in self._sub(node.value, env):
            if not isinstance(base, str | bytes | tuple):
                raise Unknown(node)
            if isinstance(node.slice, ast.Slice):
                bounds = (node.slice.lower, node.slice.upper, node.slice.step)
                parts: list = [self._one(p, env) if p is not None else None for p in bounds]
                yield base[slice(*parts)]
            else:
                yield _bounded(base[self._one(node.slice, env)])  # type: ignore[index]

    def _one(self, node: ast.expr, env: dict[str, Value]) -> Value:
        values = list(self._sub(node, env))
        if len(values) != 1:
            raise Unknown(node)
        return values[0]

    def _call(self, node: ast.Call, env: dict[str, Value]) -> Iterator[Value]:
        if node.keywords:
            raise Unknown(node)
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _STR_METHODS
            and not (
                isinstance(func.value, ast.Name)
                and func.value.id not in env
                and func.value.id not in self.constants
            )
        ):
            yield from self._method(node, func, env)
            return
        names = self.resolve(func)
        known = [FUNCTIONS[n] for n in names if n in FUNCTIONS]
        if not known:
            raise Unknown(func)
        args = node.args
        if len(args) == 1 and isinstance(args[0], ast.GeneratorExp):
            yield _bounded(known[0](self._comprehension(args[0], env)))
            return
        if known[0] is FUNCTIONS["builtins.map"]:
            yield from self._map(node, env)
            return
        yield from self._product(list(args), env, lambda *xs: _bounded(known[0](*xs)))

    def _method(
        self, node: ast.Call, func: ast.Attribute, env: dict[str, Value]
    ) -> Iterator[Value]:
        for target in self._sub(func.value, env):
            if not isinstance(target, str | bytes):
                raise Unknown(func)
            if (
                func.attr == "format"
                and isinstance(target, str)
                and re.search(r"\{[^}]*[.\[!:]", target)
            ):
                raise Unknown(func)  # no attribute or item lookups through format
            method = getattr(target, func.attr)
            if func.attr == "join" and len(node.args) == 1:
                items = self._one(node.args[0], env)
                if not isinstance(items, tuple | str | bytes):
                    raise Unknown(node)
                yield _bounded(method(items))
                continue
            yield from self._product(
                list(node.args), env, lambda *xs, m=method: _bounded(m(*_small(xs)))
            )

    def _map(self, node: ast.Call, env: dict[str, Value]) -> Iterator[Value]:
        if len(node.args) != 2:
            raise Unknown(node)
        names = self.resolve(node.args[0])
        func = next((FUNCTIONS[n] for n in names if n in FUNCTIONS), None)
        items = self._one(node.args[1], env)
        if func is None or not isinstance(items, tuple | str | bytes):
            raise Unknown(node)
        yield _bounded(tuple(func(x) for x in items))

    def _comprehension(self, node: ast.GeneratorExp | ast.ListComp, env: dict[str, Value]) -> tuple:
        if len(node.generators) != 1:
            raise Unknown(node)
        gen = node.generators[0]
        if not isinstance(gen.target, ast.Name):
            raise Unknown(gen.target)
        items = self._one(gen.iter, env)
        if not isinstance(items, tuple | str | bytes):
            raise Unknown(gen.iter)
        out = []
        for item in items:
            inner = {**env, gen.target.id: item}
            if all(self._one(cond, inner) for cond in gen.ifs):
                out.append(self._one(node.elt, inner))
        return _bounded(tuple(out))  # type: ignore[return-value]


def _bounded(value: object) -> Value:
    if isinstance(value, bool | int):
        if abs(value) > MAX_INT:
            raise Unknown("int too large")
        return value
    if isinstance(value, str | bytes | tuple):
        if len(value) > MAX_LEN:
            raise Unknown("too long")
        return value
    if isinstance(value, bytearray):
        return _bounded(bytes(value))
    raise Unknown(type(value).__name__)


def _small(args: tuple) -> tuple:
    """No width or count that would build a long string (``"x".center(10**9)``)."""
    if any(isinstance(a, int) and a > MAX_LEN for a in args):
        raise Unknown("width too large")
    return args


def _no_size(args: tuple) -> tuple:
    """bytes(n) allocates n bytes: only sequences are folded."""
    if args and isinstance(args[0], int):
        raise Unknown("bytes of a size")
    return args


def _apply(op: Callable, a: Value, b: Value) -> Value:
    if op is operator.mul:  # size the repetition before building it
        count, seq = (a, b) if isinstance(a, int) else (b, a)
        sized = isinstance(seq, str | bytes | tuple) and isinstance(count, int)
        if sized and len(seq) * max(count, 0) > MAX_LEN:  # type: ignore[arg-type, operator]
            raise Unknown("too long")
    if (
        op is operator.mod
        and isinstance(a, str | bytes)
        and re.search(r"%[^a-zA-Z%]*[(*\d]", str(a))
    ):
        raise Unknown("format with a width or a mapping")
    return _bounded(op(a, b))


def _unary(op: ast.unaryop, value: Value) -> Value:
    if isinstance(op, ast.Not):
        return not value
    if not isinstance(value, int):
        raise Unknown(op)
    return -value if isinstance(op, ast.USub) else ~value
