"""The ``docs`` gate: a change that needs documentation comes with it.

Documentation is needed when the spec asks for it (its text, web addresses
left out, mentions docs, documentation, docstrings, a changelog or the
README), or when the change alters the public API: public functions, classes
or methods added, removed or given a new signature, or command-line options
added. What counts as documentation is in ``documentation.py``: words added
to a docs file, a changelog, a news fragment or a type stub (``paths``), or
to a docstring of a changed Python file (module, class, function, method,
property, private ones included).

An API change is documented by its own new or updated docstring (a new
command-line option by its ``help``), by documentation added in the same
file, or by any documentation file the change adds words to. What the spec
asks for blocks; an API change without docs only advises unless
``api_change = "blocking"`` (``"ignore"`` turns that check off).

A host-side check that runs no tool: its evidence is the changed files read
from the base's and the candidate's commits. A changed Python file whose API
it must read and cannot (the candidate's version does not parse, the base's
did) leaves the verdict unknown: an ``error`` when nothing else failed,
blocking as the API check would be.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, BaseGate, GateContext, GateOutcome
from overnight.gates.changes import added_lines, is_test_path
from overnight.gates.documentation import Place, adds_words, documentation

DOC_PATHS = [
    "docs/**",
    "doc/**",
    "*.md",
    "*.rst",
    "*.pyi",
    "README*",
    "CHANGELOG*",
    "CHANGES*",
    "HISTORY*",
    "NEWS*",
    "**/changelog.d/**",
    "**/newsfragments/**",
    "changelog/**",
    "changes/**",
    "news/**",
    ".changes/**",
]
# a request for documentation, not a mention of it: "document it", "and document the
# option", "update the README", "add a changelog entry" ask; "as documented", "the
# documentation says", "the documented way" (bug reports say these) do not
DOCS_NOUN = (
    r"(?:docs?|documentation|docstrings?|change\s?log|readme|news\s+(?:entry|fragment)|"
    r"release\s+notes)"
)
SPEC_ASKS = (
    r"\b(?:add|update|write|extend|amend|adjust|mention|describe|explain|note|record|include|"
    r"keep)\b[^.\n]{0,60}?\b" + DOCS_NOUN + r"\b"
    r"|(?:^|[.!?;:]\s+|\n\s*[-*]?\s*|\b(?:and|also|please|then|to)\s+)document\b"
    r"|\b" + DOCS_NOUN + r"\b\s+(?:must|should|needs?\s+to)\b"
)
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
CLI_OPTION = re.compile(
    r"\b(?:click\.(?:option|argument)|typer\.(?:Option|Argument)|add_argument)\s*\("
)
WHERE = (
    "the docstrings of what you changed (module, class, function, method or property), "
    "the docs ({paths}), a changelog entry or a news fragment"
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
    options: list[int] = field(default_factory=list)  # lines of its command-line options


@dataclass
class ApiChange:
    path: str
    what: str
    documented: bool  # by its own new or updated docstring, or its options' help


class DocsGate(BaseGate):
    name = "docs"
    config_type = DocsConfig

    def check(self, ctx: GateContext) -> GateOutcome:
        cfg = ctx.config.gate(self.name, DocsConfig)
        command = f"docs: paths={','.join(cfg.paths)} api_change={cfg.api_change}"
        asked = asks_for_docs(cfg.spec_pattern, f"{ctx.spec.title}\n{ctx.spec.description}")
        places, idle = documentation(ctx, cfg.paths)
        checked = cfg.api_change != "ignore" or asked
        changes = api_changes(ctx) if checked else []
        unread = unparsed(ctx) if checked else []
        undocumented = [c for c in changes if not documents(places, c)]
        log = "\n".join(
            [
                f"spec asks for docs: {'yes' if asked else 'no'}",
                *[
                    f"API change: {c.what}" + ("" if documents(places, c) else " (undocumented)")
                    for c in changes
                ],
                *[f"documentation: {place}" for place in places],
                *[f"not documentation (adds no words): {path}" for path in idle],
                *[f"not read (does not parse): {why}" for why in unread],
            ]
        )
        unknown = bool(unread) and not any(p.docstring is None for p in places)  # a docs file
        if asked and not places and not unknown:  # documents any change, read or not
            return GateOutcome(
                self.name,
                FAIL,
                "the spec asks for documentation, and none changed",
                command=command,
                log=log,
                feedback=asked_feedback(cfg.paths, changes, idle),
            )
        if undocumented:
            return GateOutcome(
                self.name,
                FAIL,
                f"public API changed without documentation: {undocumented[0].what}"
                + (f" and {len(undocumented) - 1} more" if len(undocumented) > 1 else ""),
                command=command,
                log=log,
                blocking=cfg.api_change == "blocking",
                feedback="These public API changes need documentation (a docstring, a "
                "command-line option's help, or the docs/changelog):\n"
                + "\n".join(f"- {c.what}" for c in undocumented),
            )
        if unknown:
            return GateOutcome(
                self.name,
                ERROR,
                f"could not read {unread[0]}"
                + (f" and {len(unread) - 1} more" if len(unread) > 1 else "")
                + ": it does not parse, so its public API and docstrings are unknown; make "
                "it parse",
                command=command,
                log=log,
                blocking=cfg.api_change == "blocking" or asked,
            )
        if asked or changes:
            return GateOutcome(
                self.name, PASS, "documentation changed with the change", command=command, log=log
            )
        return GateOutcome(
            self.name,
            PASS,
            "no documentation needed: the spec does not ask for it and the public API is unchanged",
            command=command,
            log=log,
        )


def asks_for_docs(pattern: str, text: str) -> bool:
    """Whether the spec's text asks for documentation (a docs address is no request)."""
    return bool(re.search(pattern, URL.sub(" ", text), re.IGNORECASE))


def documents(places: list[Place], change: ApiChange) -> bool:
    """An API change is documented by its own docstring, by documentation added to the
    same file, or by any documentation file."""
    return change.documented or any(p.docstring is None or p.path == change.path for p in places)


def asked_feedback(paths: list[str], changes: list[ApiChange], idle: list[str]) -> str:
    out = (
        "The task asks for documentation, and this change adds none. Document it where "
        "this project keeps documentation: "
        + WHERE.format(paths=", ".join(paths[:5]))
        + ". Whitespace-only edits and unchanged docstrings do not count."
    )
    if idle:
        out += "\nThese changed files add no words: " + ", ".join(idle)
    if changes:
        out += "\nWhat changed:\n" + "\n".join(f"- {c.what}" for c in changes)
    return out


def api_files(ctx: GateContext) -> list[str]:
    """The changed Python files that hold public API: not tests, not private modules."""
    return [
        p
        for p in ctx.changed
        if p.endswith(".py") and not is_test_path(p) and not is_private_module(p)
    ]


def unparsed(ctx: GateContext) -> list[str]:
    """API files whose candidate version does not parse while the base's did (or is new),
    as 'path (line N: why)': their API was never read. A file that did not parse on the
    base either is not Python to this project (a template), and is left out."""
    found = []
    for path in api_files(ctx):
        why = parse_error(ctx.source(path))
        if why and parse_error(ctx.base_source(path) or "") is None:
            found.append(f"{path} ({why})")
    return found


def parse_error(source: str | None) -> str | None:
    """Why Python cannot parse ``source`` (None: it can, or there is none)."""
    if source is None:
        return None
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # a null byte
        return str(exc)
    return None


def api_changes(ctx: GateContext) -> list[ApiChange]:
    """The public API changes of the changed, non-test, non-private Python files."""
    changes: list[ApiChange] = []
    unread = {u.split(" (", 1)[0] for u in unparsed(ctx)}  # API unknown: not "removed"
    files = [p for p in api_files(ctx) if p not in unread]
    added = added_lines(ctx.workspace, ctx.sha, files)
    for path in files:
        source = ctx.source(path)
        old, new = public_api(ctx.base_source(path)), public_api(source)
        helped = help_lines(source)
        lines = added.get(path, {})
        for name, api in new.items():
            was = old.get(name)
            where = f"{path}:{api.line}"
            documented = self_documented(api, was, [n for n in api.options if n in lines], helped)
            if was is None:
                changes.append(
                    ApiChange(path, f"new public {name}{api.signature} ({where})", documented)
                )
            elif was.signature != api.signature:
                changes.append(
                    ApiChange(path, f"{name} now takes {api.signature} ({where})", documented)
                )
        changes += [
            ApiChange(path, f"{name} removed from {path}", False) for name in old if name not in new
        ]
        changes += [
            ApiChange(
                path,
                f"command-line option added at {path}:{number}: {text.strip()[:80]}",
                number in helped,
            )
            for number, text in lines.items()
            if CLI_OPTION.search(text)
        ]
    return changes


def self_documented(api: Api, was: Api | None, options: list[int], helped: set[int]) -> bool:
    """A new or updated docstring; or, for a command, help on each option it gained."""
    if api.doc and (was is None or adds_words(was.doc or "", api.doc)):
        return True
    return bool(options) and all(n in helped for n in options)


def help_lines(source: str | None) -> set[int]:
    """Lines where a call given a non-blank ``help=`` text starts (a command-line option
    with its help: what ``--help`` shows is its documentation)."""
    try:
        tree = ast.parse(source or "")
    except (SyntaxError, ValueError):
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(
            k.arg == "help" and not _blank(k.value) for k in node.keywords
        ):
            lines |= {node.lineno, node.func.end_lineno or node.lineno}
    return lines


def _blank(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and (value.value is None or not str(value.value).strip())


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
            found[node.name] = Api(
                f"({bases})" if bases else "", ast.get_docstring(node), node.lineno
            )
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
    options = [
        d.lineno
        for d in node.decorator_list
        if isinstance(d, ast.Call) and CLI_OPTION.search(ast.unparse(d.func) + "(")
    ]
    return Api(
        f"({ast.unparse(node.args)}){returns}", ast.get_docstring(node), node.lineno, options
    )
