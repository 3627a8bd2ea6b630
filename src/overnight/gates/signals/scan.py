"""One module's signals: every place it does what a signal looks for.

``scan(tree, role)`` walks the module once, knowing which code runs when it is
imported (the module body, class bodies, decorators, default values) and
which only when called, and returns ``Hit``s: a signal, what was found (the
same words for the same thing, so hits can be counted before and after a
change), and a line. Which rules apply depends on the file's role: the code
under test, conftest.py (the harness) or another test file. Docstrings and
annotations are never read.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from overnight.gates.signals import rules as r
from overnight.gates.signals.equality import equality_hits
from overnight.gates.signals.hit import Hit
from overnight.gates.signals.names import Names
from overnight.gates.signals.source import CODE, CONFTEST, TEST

__all__ = ["Hit", "scan", "harness_settings"]

REFERENCES = (ast.Name, ast.Attribute, ast.Call, ast.Subscript)
FOLDABLE = (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Call, ast.Subscript)
PATCHERS = {"setattr", "delattr", "setitem", "delitem", "patch", "object", "dict"}
NAMES = (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)  # how a patched attribute is named
USES = {r.EXIT_HOOK, r.FRAMES, r.IMPORT_HOOK, r.HARNESS}  # found where used, not where imported
RUNNERS = {"builtins.exec", "builtins.eval", "builtins.compile"}
DECODERS = (
    "base64",
    "binascii",
    "codecs.decode",
    "zlib.decompress",
    "lzma.decompress",
    "bz2.decompress",
    "gzip.decompress",
    "marshal.loads",
    "builtins.bytes.fromhex",
    "pickle.loads",
)


def scan(tree: ast.Module, role: str) -> list[Hit]:
    scanner = _Scanner(Names(tree), role)
    scanner.body(tree.body, at_import=True, quiet=frozenset())
    if role == CODE:
        scanner.hits += equality_hits(tree, scanner.names)
    return sorted(set(scanner.hits), key=lambda h: (h.line, h.signal, h.what))


def harness_settings(tree: ast.Module, names: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Per pytest setting (``collect_ignore``, ``pytest_plugins``...): the first line of
    the statements that touch it, and those statements as a comparable dump."""
    found: dict[str, list[ast.stmt]] = {}
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        parts = [c for c in ast.iter_child_nodes(stmt) if not isinstance(c, ast.stmt)]
        used = {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}
        for name in used & set(names):
            found.setdefault(name, []).append(stmt)
    return {
        name: (stmts[0].lineno, "\n".join(ast.dump(s) for s in stmts))
        for name, stmts in found.items()
    }


@dataclass
class _Scanner:
    names: Names
    role: str

    def __post_init__(self) -> None:
        self.hits: list[Hit] = []

    def body(self, stmts: list[ast.stmt], at_import: bool, quiet: frozenset[str]) -> None:
        for stmt in stmts:
            self.node(stmt, at_import, quiet)

    def node(self, node: ast.AST, at_import: bool, quiet: frozenset[str]) -> None:
        """Visit ``node``; a signal found on it is not looked for again inside it
        (``sys._getframe(1).f_back`` is one hit, not two)."""
        if _is_docstring(node):
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return self._function(node, at_import, quiet)
        if isinstance(node, ast.ClassDef):
            for part in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.node(part, at_import, quiet)
            return self.body(node.body, at_import, quiet)
        found = self._found(node, at_import)
        self.hits += [h for h in found if h.signal not in quiet]
        quiet = quiet | {h.signal for h in found}
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.AnnAssign) and child is node.annotation:
                continue
            self.node(child, at_import, quiet)

    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
        at_import: bool,
        quiet: frozenset[str],
    ) -> None:
        """Decorators and defaults run where the function is defined; the body when called."""
        decorators = [] if isinstance(node, ast.Lambda) else node.decorator_list
        defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        for part in [*decorators, *defaults]:
            self.node(part, at_import, quiet)
        if isinstance(node, ast.Lambda):
            self.node(node.body, False, quiet)
        else:
            self.body(node.body, False, quiet)

    def _found(self, node: ast.AST, at_import: bool) -> list[Hit]:
        line = getattr(node, "lineno", 0)
        found: list[Hit] = []
        for target in _mutated(node):
            for ref in self._mutated_refs(target):
                found += [Hit(s, w, line) for s, w in self._mutation_rules(ref)]
        replaced = {h.signal for h in found}  # `x.y = ...` is one finding, not also a use of x.y
        imported = isinstance(node, ast.Import | ast.ImportFrom)
        for ref in self._refs(node):
            found += [
                Hit(signal, what, line)
                for signal, what in self._ref_rules(ref, at_import)
                if signal not in replaced and not (imported and signal in USES)
            ]
        if isinstance(node, ast.Call):
            found += self._executed(node, line)
        if isinstance(node, FOLDABLE):
            for text in self.names.strings(node):
                found += [Hit(s, w, line) for s, w in self._string_rules(text)]
        if self.role == CODE:
            found += [Hit(s, w, line) for s, w in self._code_only(node)]
        return found

    # -- what a node refers to ----------------------------------------------

    def _refs(self, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Import):
            return {alias.name for alias in node.names}
        if isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                return set()
            return {node.module if a.name == "*" else f"{node.module}.{a.name}" for a in node.names}
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            return set()
        if isinstance(node, REFERENCES):
            return self.names.refs(node)
        return set()

    def _ref_rules(self, ref: str, at_import: bool) -> list[tuple[str, str]]:
        shown = f"`{ref.removeprefix('?')}`"
        last = ref.rsplit(".", 1)[-1]
        out: list[tuple[str, str]] = []
        if last in r.PLUGIN_ATTRS and "." in ref:
            out.append((r.INTERNALS, f"`.{last}`"))
        if r.matches(ref, r.EXIT_REFS):
            out.append((r.EXIT_HOOK, shown))
        if self.role == TEST:
            return out
        if r.matches(ref, {"marshal.loads"}):
            out.append((r.HIDDEN, shown))
        if r.matches(ref, r.IMPORT_HOOK_REFS):
            out.append((r.IMPORT_HOOK, shown))
        if r.matches(ref, r.FRAME_REFS):
            out.append((r.FRAMES, shown))
        elif last in r.FRAME_ATTRS and "." in ref:
            out.append((r.FRAMES, f"`.{last}`"))
        if self.role == CODE and r.matches(ref, r.INTERNAL_REFS):
            out.append((r.INTERNALS, shown))
        if self.role == CODE and r.matches(ref, r.EQUAL_TO_ANYTHING):
            out.append((r.ALWAYS_EQUAL, shown))
        if self.role == CONFTEST:
            if r.in_family(ref, ("_pytest", "pluggy")) or r.matches(ref, r.PYTEST_MACHINERY):
                out.append((r.INTERNALS, shown))
            elif (
                at_import
                and r.in_family(ref)
                and ref != "pytest"
                and not r.matches(ref, r.CONFTEST_IMPORT_TIME_OK)
            ):
                out.append((r.HARNESS, f"{shown} runs when conftest.py is imported"))
        return out

    # -- what a statement or call replaces -----------------------------------

    def _mutated_refs(self, target: ast.expr) -> set[str]:
        refs = set(self.names.refs(target))
        if isinstance(target, ast.Call) and len(target.args) == 2 and not refs:
            # setattr(x, <a name the folder cannot tell>, ...)
            refs = {f"{owner}.?" for owner in self.names.refs(target.args[0])}
        if isinstance(target, ast.Subscript) and "sys.modules" in self.names.refs(target.value):
            refs.add("sys.modules")  # sys.modules["x"] = ... plants a module
        if isinstance(target, ast.Constant | ast.JoinedStr | ast.BinOp):
            refs |= {s for s in self.names.strings(target) if "." in s}  # patch("a.b.c")
        return refs

    def _mutation_rules(self, ref: str) -> list[tuple[str, str]]:
        rule = r.matches(ref, r.MUTATION_REFS)
        if rule is None or (self.role == TEST and not r.in_family(ref)):
            return []
        return [(r.MUTATION_REFS[rule], f"`{ref}` replaced")]

    # -- code run from strings -----------------------------------------------

    def _executed(self, call: ast.Call, line: int) -> list[Hit]:
        """``exec``/``eval``/``compile`` of a string: the string is scanned as code
        (its hits reported at the call); code decoded at run time is a hit itself."""
        if not (self.names.refs(call.func) & RUNNERS) or not call.args or self.role == TEST:
            return []
        source = call.args[0]
        found = []
        for text in self.names.strings(source):
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            found += [Hit(h.signal, h.what, line) for h in scan(tree, self.role)]
        if self.role == CONFTEST:  # a hook defined in a string is still a hook
            found.append(Hit(r.HIDDEN, "runs code from a string", line))
        elif not isinstance(source, ast.Constant) and any(
            _decoders(self.names.refs(sub.func))
            for sub in ast.walk(source)
            if isinstance(sub, ast.Call)
        ):
            found.append(Hit(r.HIDDEN, "runs code decoded at run time", line))
        return found

    # -- strings ---------------------------------------------------------------

    def _string_rules(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name in sorted(set(r.OVERNIGHT_NAME.findall(text))):
            out.append((r.OVERNIGHT, f"`{name}`"))
        if self.role == TEST:
            return out
        pytest_name = r.PYTEST_DOTTED.match(text) or text == r.PLUGIN_ENTRY_POINT
        if pytest_name or (self.role == CODE and r.PYTEST_ENV.match(text)):
            out.append((r.INTERNALS, f"`{text}`"))
        if self.role == CONFTEST and (r.HOOK_NAME.match(text) or text in r.HARNESS_SETTINGS):
            out.append((r.HARNESS, f"`{text}` named in a string"))
        return out

    # -- the code under test alone -------------------------------------------

    def _code_only(self, node: ast.AST) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for module in _imported_tests(node):
            out.append((r.TEST_FILES, f"imports test code `{module}`"))
        if isinstance(node, ast.Compare) and self._asks_for_pytest(node):
            out.append((r.INTERNALS, "checks whether pytest is running"))
        for text in self._file_paths(node):
            out.append((r.TEST_FILES, f"`{text}`"))
        return out

    def _asks_for_pytest(self, node: ast.Compare) -> bool:
        sides = [node.left, *node.comparators]
        watched = {"sys.modules", "sys.argv", "sys.orig_argv", "sys.executable"}
        asks = any(self.names.refs(sub) & watched for side in sides for sub in ast.walk(side))
        named = any("pytest" in s for side in sides for s in self.names.strings(side))
        return asks and named

    def _file_paths(self, node: ast.AST) -> list[str]:
        """Test paths given to a call that opens, lists or imports files, or joined
        onto a path with ``/``."""
        if isinstance(node, ast.Call):
            callee = self.names.refs(node.func)
            last = {c.rsplit(".", 1)[-1] for c in callee}
            joins = any(c.endswith("path.join") for c in callee)
            if not (last & r.FILE_CALLS or joins):
                return []
            parts: list[ast.expr] = [*node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.left, node.right]
        else:
            return []
        found = set()
        for part in parts:
            for sub in ast.walk(part):
                if isinstance(sub, ast.Name):
                    continue
                found |= {s for s in self.names.strings(sub) if r.TEST_PATH.search(s)}
        return sorted(found)


def _imported_tests(node: ast.AST) -> list[str]:
    """Modules of the tests the code under test imports (``from .testing import x``):
    code placed among the tests is not scanned as the code under test."""
    if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        prefix = "." * node.level + (node.module or "")
        modules = [f"{prefix}.{a.name}" if node.module else f"{prefix}{a.name}" for a in node.names]
    else:
        return []
    return [m for m in modules if any(r.TEST_MODULE.match(p) for p in m.split(".") if p)]


def _mutated(node: ast.AST) -> list[ast.expr]:
    """The expressions a statement or call writes to (``x.y = ...``, ``del x[k]``,
    ``setattr(x, "y", ...)``, ``monkeypatch.setattr(...)``, ``mock.patch("a.b")``)."""
    if isinstance(node, ast.Assign):
        return [t for t in node.targets if isinstance(t, ast.Attribute | ast.Subscript)]
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target] if isinstance(node.target, ast.Attribute | ast.Subscript) else []
    if isinstance(node, ast.Delete):
        return [t for t in node.targets if isinstance(t, ast.Attribute | ast.Subscript)]
    if not isinstance(node, ast.Call) or not node.args:
        return []
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in ("setattr", "delattr") and len(node.args) >= 2 and isinstance(func, ast.Name):
        return [_getattr(node.args[0], node.args[1])]
    if name in PATCHERS and isinstance(func, ast.Attribute):
        first = node.args[0]
        named = ("setattr", "delattr", "object", "setitem", "delitem")
        if len(node.args) >= 2 and name in named and isinstance(node.args[1], NAMES):
            return [first, _getattr(first, node.args[1])]
        return [first]
    if name in ("update", "setdefault", "pop", "__setitem__", "clear") and isinstance(
        func, ast.Attribute
    ):
        return [func.value]
    return []


def _getattr(owner: ast.expr, name: ast.expr) -> ast.expr:
    """``getattr(owner, name)`` as a node, for the resolver to fold the name."""
    call = ast.Call(func=ast.Name(id="getattr", ctx=ast.Load()), args=[owner, name], keywords=[])
    return ast.copy_location(call, owner)


def _decoders(refs: set[str]) -> set[str]:
    return {ref for ref in refs if ref.startswith(DECODERS)}


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )
