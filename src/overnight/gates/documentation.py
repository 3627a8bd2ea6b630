"""What counts as documentation in a change: the places real projects put it.

A change documents something when it adds words to one of:

- a documentation file: one matching the docs gate's ``paths`` (docs/, doc/,
  Markdown and reST files, READMEs, changelogs, news-fragment directories,
  type stubs), or in the fragment directory the base's towncrier or scriv
  configuration names. A Python file never counts as a whole: it documents
  through its docstrings;
- a docstring in a changed Python file that is not a test: the module's, a
  class's, a function's, a method's or a property's, private ones and those
  of private modules included; attribute docstrings (a string right after an
  assignment) and ``#:`` comments, the two ways Sphinx documents attributes.

Words are counted against the base's version of the same file or docstring:
whitespace, re-wrapping and deletions add none, and text the base already had
in the changed files (a moved function, a renamed file) is not new. Every file
is read from the base's and the candidate's commits, never the working tree.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
import tomllib
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import PurePosixPath

from overnight.gates import GateContext
from overnight.gates.changes import is_test_path
from overnight.gates.scope import matches

MODULE = "<module>"  # the key of a module's docstring (no name can collide with it)
COMMENTS = "#:"  # the key of a file's ``#:`` comments, together


@dataclass
class Place:
    """Documentation a change added: a file, or one docstring of a Python file."""

    path: str
    docstring: str | None = None  # the documented name; None for a whole file

    def __str__(self) -> str:
        if self.docstring is None:
            return self.path
        if self.docstring == COMMENTS:
            return f"{self.path}: '#:' comments"
        return f"{self.path}: docstring of {self.docstring.replace(MODULE, 'the module')}"


def documentation(ctx: GateContext, paths: list[str]) -> tuple[list[Place], list[str]]:
    """(places the change documents, changed documentation files that add no words)."""
    globs = [*paths, *fragment_dirs(ctx)]
    files = [p for p in ctx.changed if not p.endswith(".py") and matches(p, globs)]
    python = [p for p in ctx.changed if p.endswith(".py") and not is_test_path(p)]
    old_files = {p: ctx.base_source(p) or "" for p in files}
    old_docs = {p: docstrings(ctx.base_source(p)) for p in python}
    seen = {normal(t) for t in old_files.values()}
    seen |= {normal(t) for docs in old_docs.values() for t in docs.values()}
    places: list[Place] = []
    idle: list[str] = []
    for path in files:
        new = ctx.source(path) or ""
        if adds_words(old_files[path], new) and normal(new) not in seen:
            places.append(Place(path))
        else:
            idle.append(path)
    for path in python:
        for name, text in docstrings(ctx.source(path)).items():
            if adds_words(old_docs[path].get(name, ""), text) and normal(text) not in seen:
                places.append(Place(path, name))
    return places, idle


def adds_words(old: str, new: str) -> bool:
    """Whether ``new`` has words ``old`` lacks: changed whitespace, re-wrapped lines and
    deleted text add none."""
    a = [normal(line) for line in old.splitlines() if line.strip()]
    b = [normal(line) for line in new.splitlines() if line.strip()]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b).get_opcodes():
        if tag in ("insert", "replace") and not _subsequence(
            " ".join(b[j1:j2]).split(), " ".join(a[i1:i2]).split()
        ):
            return True
    return False


def _subsequence(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(word in rest for word in short)


def normal(text: str) -> str:
    return " ".join(text.split())


def docstrings(source: str | None) -> dict[str, str]:
    """A Python file's documentation by name: ``<module>``, ``Class``, ``Class.method``,
    ``Class.attribute``, ``func.inner``; a repeated name (a property's setter, an
    overload) gets ``#2``, ``#3``; the ``#:`` comments together under ``#:``."""
    if not source:
        return {}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    _collect(tree, "", found)
    comments = sphinx_comments(source)
    if comments:
        found[COMMENTS] = comments
    return found


def _collect(
    node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
    prefix: str,
    found: dict[str, str],
) -> None:
    doc = ast.get_docstring(node)
    if doc and doc.strip():
        _add(found, prefix or MODULE, doc)
    in_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    for i, child in enumerate(node.body):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            _collect(child, f"{prefix}.{child.name}" if prefix else child.name, found)
        elif not in_function and i + 1 < len(node.body):
            attribute = _attribute_doc(child, node.body[i + 1])
            if attribute:
                name, text = attribute
                _add(found, f"{prefix}.{name}" if prefix else name, text)


def _attribute_doc(statement: ast.stmt, following: ast.stmt) -> tuple[str, str] | None:
    """(name, text) when ``statement`` assigns a name and ``following`` is a string."""
    if not (
        isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
        and following.value.value.strip()
    ):
        return None
    targets: list[ast.expr]
    if isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.Assign):
        targets = statement.targets
    else:
        return None
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return (names[0], inspect.cleandoc(following.value.value)) if names else None


def _add(found: dict[str, str], name: str, text: str) -> None:
    key, n = name, 1
    while key in found:
        n += 1
        key = f"{name}#{n}"
    found[key] = text


def sphinx_comments(source: str) -> str:
    """The text of a file's ``#:`` comments, one a line."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return "\n".join(
        t.string[2:].strip()
        for t in tokens
        if t.type == tokenize.COMMENT and t.string.startswith("#:")
    )


def fragment_dirs(ctx: GateContext) -> list[str]:
    """Where the base's towncrier or scriv configuration keeps news fragments and the
    changelog they are built into (``pyproject.toml`` or ``towncrier.toml``)."""
    found: list[str] = []
    for name in ("pyproject.toml", "towncrier.toml"):
        try:
            tool = tomllib.loads(ctx.base_source(name) or "").get("tool")
        except tomllib.TOMLDecodeError:
            continue
        if not isinstance(tool, dict):
            continue
        towncrier, scriv = _table(tool, "towncrier"), _table(tool, "scriv")
        directory = towncrier.get("directory") or _package_fragments(towncrier)
        for value, glob in (
            (directory, "{}/**"),
            (scriv.get("fragment_directory"), "{}/**"),
            (towncrier.get("filename"), "{}"),
        ):
            if isinstance(value, str) and value.strip():
                found.append(glob.format(PurePosixPath(value.strip()).as_posix()))
    return found


def _table(tool: dict, name: str) -> dict:
    table = tool.get(name)
    return table if isinstance(table, dict) else {}


def _package_fragments(towncrier: dict) -> str | None:
    """towncrier's default when no directory is set: ``newsfragments/`` in the package."""
    package, root = towncrier.get("package"), towncrier.get("package_dir", ".")
    if not isinstance(package, str) or not isinstance(root, str):
        return None
    return (PurePosixPath(root) / package.replace(".", "/") / "newsfragments").as_posix()
