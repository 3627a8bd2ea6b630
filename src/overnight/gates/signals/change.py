"""A change's signals: what it adds relative to the base, file by file.

Each Python file of the change is scanned at the base and in the candidate
(``scan.py``); a hit counts only when the candidate has more of the same
(signal, what) in that file than the base had, so code a project already had
is not held against a change that edits around it. Of the extra hits, those
on lines the change touched are reported. What the change takes out of one
file (or deletes with it) and puts in another was moved, not added: a
refactoring that splits a module or renames it is not a new signal.

Overnight's variables and exit handlers are judged together: an exit handler
(``atexit``, ``signal``, ``os._exit``...) is a finding in a change that also
adds a mention of an ``OVERNIGHT_*`` name anywhere; a mention of one in the
code under test or in conftest.py is a finding on its own.
"""

from __future__ import annotations

import ast
import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from overnight.gates.signals import rules as r
from overnight.gates.signals.hit import Hit
from overnight.gates.signals.scan import harness_settings, scan
from overnight.gates.signals.source import CODE, CONFTEST, TEST, Undecodable, parse, role

COMPILED_SUFFIXES = (".so", ".pyd", ".pyc", ".pyo")
LABELS = {
    r.HARNESS: "conftest.py does more than provide fixtures",
    r.INTERNALS: "reaches into pytest or its plugin machinery",
    r.IMPORT_HOOK: "hooks imports or replaces what every module imports",
    r.FRAMES: "reads the running code's frames or sources",
    r.TEST_FILES: "the code under test opens test files",
    r.EXIT_HOOK: "an exit handler or forced exit",
    r.OVERNIGHT: "reads overnight's own variables",
    r.ALWAYS_EQUAL: "an object that compares equal to anything",
    r.COMPILED: "compiled code, which cannot be checked",
    r.HIDDEN: "hides the code it runs",
    r.UNDECODABLE: "conftest.py that Python cannot read",
}
ADVICE = {
    r.HARNESS: "conftest.py may hold fixtures only: no pytest hooks, no collect_ignore, "
    "nothing at import time that touches pytest or its internals",
    r.INTERNALS: "the code must not import or inspect pytest, _pytest or pluggy, nor "
    "check whether it runs under tests; register no pytest plugin",
    r.IMPORT_HOOK: "remove import hooks (sys.meta_path, sys.path_hooks), replaced "
    "builtins and modules planted in sys.modules",
    r.FRAMES: "the code must compute its result from its arguments, not from its "
    "callers' frames, tracing, the garbage collector or source text",
    r.TEST_FILES: "the code under test must not read the tests",
    r.EXIT_HOOK: "remove exit handlers, signal handlers and forced exits",
    r.OVERNIGHT: "OVERNIGHT_* variables belong to the grader: do not read them",
    r.ALWAYS_EQUAL: "implement __eq__ by comparing values; never return an object that "
    "equals anything",
    r.COMPILED: "commit Python source, not compiled modules",
    r.HIDDEN: "write the code as plain source: no exec or eval of strings decoded at run time",
    r.UNDECODABLE: "write conftest.py as UTF-8 Python that parses",
}


@dataclass(frozen=True)
class FileChange:
    path: str
    before: bytes | None  # None: the base has no such file
    after: bytes | None  # None: the change deletes it


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    signal: str
    what: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {LABELS[self.signal]}: {self.what}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files that could not be scanned

    def advice(self) -> list[str]:
        signals = dict.fromkeys(f.signal for f in self.findings)
        return [ADVICE[s] for s in signals if s in ADVICE]


@dataclass
class _Scanned:
    path: str
    role: str
    after: list[Hit]
    before: Counter[tuple[str, str]]
    touched: set[int]  # lines of the candidate the change added or edited
    new: bool


def check_change(changes: Iterable[FileChange]) -> Report:
    report = Report()
    scanned: list[_Scanned] = []
    deleted: Counter[tuple[str, str]] = Counter()
    for change in changes:
        if change.after is None:
            deleted += _counts(_hits(change.path, change.before))
            continue
        report.findings += _path_findings(change.path)
        if change.path.endswith(".py"):
            item = _scan(change, report)
            if item is not None:
                scanned.append(item)
        else:
            scanned.append(_entry_points(change))
    moved = deleted + sum((item.before - _counts(item.after) for item in scanned), Counter())
    for item in scanned:  # what the change took out elsewhere and brought here was moved
        credit = moved & (_counts(item.after) - item.before)
        item.before += credit
        moved -= credit
    report.findings += _judge(scanned)
    return report


def _path_findings(path: str) -> list[Finding]:
    if path.endswith(COMPILED_SUFFIXES):
        return [Finding(path, 0, r.COMPILED, f"`{PurePosixPath(path).name}`")]
    return []


def _scan(change: FileChange, report: Report) -> _Scanned | None:
    kind = role(change.path)
    assert change.after is not None
    try:
        tree, text = parse(change.after)
    except Undecodable as exc:
        if kind == CONFTEST:
            report.findings.append(Finding(change.path, 0, r.UNDECODABLE, str(exc)))
        else:
            report.notes.append(f"{change.path}: not scanned for tamper signals: it {exc}")
        return None
    try:
        after_hits = scan(tree, kind)
    except RecursionError:  # Python could not compile it either; nor can it be checked
        report.findings.append(Finding(change.path, 0, r.HIDDEN, "nested too deeply to check"))
        return None
    before_text, before_hits, before_tree = "", [], None
    if change.before is not None:
        try:
            before_tree, before_text = parse(change.before)
            before_hits = scan(before_tree, kind)
        except (Undecodable, RecursionError):
            pass  # nothing counted at the base: all the candidate has is new
    if change.before is None or before_tree is not None:
        report.findings += _settings(change.path, kind, before_tree, tree)
    return _Scanned(
        change.path,
        kind,
        after_hits,
        _counts(before_hits),
        _touched(before_text, text),
        change.before is None,
    )


def _settings(path: str, kind: str, before: ast.Module | None, after: ast.Module) -> list[Finding]:
    """collect_ignore in conftest.py, pytest_plugins in a test module: added or changed."""
    watched = {CONFTEST: ("collect_ignore", "collect_ignore_glob"), TEST: ("pytest_plugins",)}
    names = watched.get(kind)
    if not names:
        return []
    old = harness_settings(before, names) if before is not None else {}
    new = harness_settings(after, names)
    return [
        Finding(path, line, r.HARNESS, f"`{name}` added or changed")
        for name, (line, dump) in sorted(new.items())
        if old.get(name, (0, None))[1] != dump
    ]


def _hits(path: str, data: bytes | None) -> list[Hit]:
    if data is None or not path.endswith(".py"):
        return []
    try:
        tree, _ = parse(data)
    except Undecodable:
        return []
    return scan(tree, role(path))


def _entry_points(change: FileChange) -> _Scanned:
    """A pytest plugin registered through packaging metadata (the ``pytest11`` group)."""

    def hits(data: bytes | None) -> list[Hit]:
        text = (data or b"").decode("utf-8", "replace")
        return [
            Hit(r.INTERNALS, f"`{r.PLUGIN_ENTRY_POINT}` entry point", n)
            for n, line in enumerate(text.splitlines(), 1)
            if r.PLUGIN_ENTRY_POINT in line
        ]

    before = (change.before or b"").decode("utf-8", "replace")
    after = (change.after or b"").decode("utf-8", "replace")
    return _Scanned(
        change.path,
        CODE,
        hits(change.after),
        _counts(hits(change.before)),
        _touched(before, after),
        False,
    )


def _counts(hits: list[Hit]) -> Counter[tuple[str, str]]:
    return Counter((h.signal, h.what) for h in hits)


def _touched(before: str, after: str) -> set[int]:
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    return {
        n + 1
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
        for n in range(j1, j2)
    }


def _added(item: _Scanned) -> list[Hit]:
    """The hits of keys the candidate has more of than the base; those on touched
    lines first."""
    out = []
    for key, count in _counts(item.after).items():
        extra = count - item.before.get(key, 0)
        if extra <= 0:
            continue
        hits = [h for h in item.after if (h.signal, h.what) == key]
        hits.sort(key=lambda h: (h.line not in item.touched, h.line))
        out += hits[:extra]
    return sorted(out, key=lambda h: (h.line, h.signal, h.what))


def _judge(scanned: list[_Scanned]) -> list[Finding]:
    added = [(item, hit) for item in scanned for hit in _added(item)]
    names = [(i, h) for i, h in added if h.signal == r.OVERNIGHT]
    exits = [(i, h) for i, h in added if h.signal == r.EXIT_HOOK]
    paired = bool(names) and bool(exits)
    findings = []
    for item, hit in added:
        what = hit.what
        if hit.signal == r.OVERNIGHT and not (item.role != TEST or paired):
            continue
        if hit.signal == r.EXIT_HOOK:
            if not (item.role == CONFTEST or paired):
                continue
            if paired:
                first, mention = names[0]
                where = f"{first.path}:{mention.line}"
                what = f"{what}, in a change that mentions {mention.what} ({where})"
        findings.append(Finding(item.path, hit.line, hit.signal, what))
    return findings
