"""The ``docs`` gate: a change that needs documentation comes with it.

Documentation is needed when the spec asks for it (its text mentions docs,
documentation, docstrings, a changelog or the README), or when the change
alters the public API: public functions, classes or methods added, removed or
given a new signature, or command-line options added. It is there when a
documentation file changed (``paths``: docs/, Markdown and reST files, the
README and changelog by default) or, for the API, when each changed function
got a new or updated docstring.

What the spec asks for blocks; an API change without docs only advises unless
``api_change = "blocking"`` (``"ignore"`` turns that check off).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar

from overnight.config import GateConfig
from overnight.gates import FAIL, PASS, GateContext, GateOutcome
from overnight.gates.changes import added_lines, is_test_path, source_files
from overnight.gates.scope import matches

DOC_PATHS = ["docs/**", "doc/**", "*.md", "*.rst", "README*", "CHANGELOG*", "CHANGES*",
             "HISTORY*", "NEWS*"]  # fmt: skip
SPEC_ASKS = r"\b(document(?:ation|ed|s)?|docs|docstrings?|change ?log|readme)\b"
CLI_OPTION = re.compile(
    r"\b(?:click\.(?:option|argument)|typer\.(?:Option|Argument)|add_argument)\s*\("
)


@dataclass
class DocsConfig(GateConfig):
    paths: list[str] = field(default_factory=lambda: list(DOC_PATHS))
    api_change: str = "advisory"  # "blocking", "advisory" or "ignore"
    spec_pattern: str = SPEC_ASKS  # a spec whose text matches asks for documentation
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "api_change": ("blocking", "advisory", "ignore")
    }


@dataclass
class Api:
    signature: str
    doc: str | None
    line: int


class DocsGate:
    name = "docs"

    def check(self, ctx: GateContext) -> GateOutcome:
        cfg = ctx.config.gate(self.name)
        assert isinstance(cfg, DocsConfig)
        command = f"docs: paths={','.join(cfg.paths)} api_change={cfg.api_change}"
        asked = bool(re.search(cfg.spec_pattern, f"{ctx.spec.title}\n{ctx.spec.description}",
                               re.IGNORECASE))  # fmt: skip
        changes, documented = api_changes(ctx) if cfg.api_change != "ignore" or asked else ([], [])
        doc_files = [p for p in ctx.changed if matches(p, cfg.paths)]
        undocumented = [] if doc_files else [c for c in changes if c[0] not in documented]
        log = "\n".join(
            [f"spec asks for docs: {'yes' if asked else 'no'}",
             *[f"API change: {what}" for _, what in changes],
             *[f"documentation changed: {p}" for p in doc_files],
             *[f"docstring changed: {name}" for name in documented]]
        )  # fmt: skip
        if asked and not doc_files and not documented:
            return GateOutcome(
                self.name, FAIL, "the spec asks for documentation, and none changed",
                command=command, log=log,
                feedback="The task asks for documentation. Update the docs or changelog ("
                + ", ".join(cfg.paths[:5]) + ") or the docstrings of what you changed"
                + (":\n" + "\n".join(f"- {what}" for _, what in changes) if changes else "."),
            )  # fmt: skip
        if undocumented:
            return GateOutcome(
                self.name, FAIL,
                f"public API changed without documentation: {undocumented[0][1]}"
                + (f" and {len(undocumented) - 1} more" if len(undocumented) > 1 else ""),
                command=command, log=log, blocking=cfg.api_change == "blocking",
                feedback="These public API changes need documentation (a docstring, or the "
                "docs/changelog):\n" + "\n".join(f"- {what}" for _, what in undocumented),
            )  # fmt: skip
        if asked or changes:
            return GateOutcome(self.name, PASS, "documentation changed with the change",
                               command=command, log=log)  # fmt: skip
        return GateOutcome(self.name, PASS, "no documentation needed: the spec does not ask "
                           "for it and the public API is unchanged", command=command,
                           log=log)  # fmt: skip


def api_changes(ctx: GateContext) -> tuple[list[tuple[str, str]], list[str]]:
    """([(name, description)] of public API changes, [names whose docstring changed])."""
    changes: list[tuple[str, str]] = []
    documented: list[str] = []
    files = [p for p in ctx.changed
             if p.endswith(".py") and not is_test_path(p) and not is_private_module(p)]  # fmt: skip
    for path in files:
        old = public_api(ctx.base_source(path))
        new = public_api(ctx.source(path))
        for name, api in new.items():
            was = old.get(name)
            where = f"{path}:{api.line}"
            if was is None:
                changes.append((f"{path}:{name}", f"new public {name}{api.signature} ({where})"))
            elif was.signature != api.signature:
                changes.append((f"{path}:{name}", f"{name} now takes {api.signature} ({where})"))
            if api.doc and (was is None or was.doc != api.doc):
                documented.append(f"{path}:{name}")
        changes += [(f"{path}:{name}", f"{name} removed from {path}") for name in old
                    if name not in new]  # fmt: skip
    for path, lines in added_lines(ctx.workspace, ctx.sha, source_files(files, ctx.workspace))\
            .items():  # fmt: skip
        for number, text in lines.items():
            if CLI_OPTION.search(text):
                changes.append((f"{path}:cli:{number}", f"command-line option added at "
                                f"{path}:{number}: {text.strip()[:80]}"))  # fmt: skip
    return changes, documented


def is_private_module(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return any(p.startswith("_") and p not in ("__init__.py", "__main__.py") for p in parts)


def public_api(source: str | None) -> dict[str, Api]:
    """Public functions, classes and their public methods (and ``__init__``)."""
    if not source:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, Api] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _public(node.name):
            found[node.name] = _api(node)
        elif isinstance(node, ast.ClassDef) and _public(node.name):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            found[node.name] = Api(f"({bases})" if bases else "", ast.get_docstring(node),
                                   node.lineno)  # fmt: skip
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    _public(item.name) or item.name == "__init__"
                ):
                    found[f"{node.name}.{item.name}"] = _api(item)
    return found


def _public(name: str) -> bool:
    return not name.startswith("_")


def _api(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Api:
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return Api(f"({ast.unparse(node.args)}){returns}", ast.get_docstring(node), node.lineno)
