"""How risky a READY change is to approve, so the review queue can put the
safest first. A score is a sum of named parts, each shown to the reviewer
with the points it added:

    size        changed lines, weighted: code 1, tests ½, docs and comments ¼;
                1.2 × log10(1 + weighted lines), at most 3 (4 code lines:
                0.8, 100: 2.4)
    sensitive   files on sensitive paths (auth, security, crypto, secrets,
                permissions, migrations, CI, dependencies): 2.5, +0.5 per
                further file, at most 4
    untested    code changed with no test changed: ¼ per code line, at most 1.5
    risky calls added lines calling eval/exec, a shell, pickle, unsafe YAML,
                or turning off TLS checks: 2
    spread      code files changed beyond the first: 0.5 each, at most 2
    warnings    advisory gates that did not pass: 1 each, at most 3
    attempts    attempts beyond the first: 0.5 each
    reviews     changes requested before: 1 each
    coverage    changed lines the tests never ran: (100 − coverage %) / 50,
                when a coverage gate measured it

Levels: low below 2.5, medium below 5, high from 5. So a one-line typo fix
in a README is low (0.2), a function of four lines added to calc.py without
a test is low (1.2), a four-line change to an auth module without a test is
medium (4.3), and size alone never makes a change high: only several
signals together do.

Only stored data is read: the delivered diff, the gate results of the
delivered attempt and the reviews.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from overnight.diffs import FileDiff, parse

TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.[^/]+$|(^|/)conftest\.py$")
DOC_PATH = re.compile(
    r"(^|/)docs?/|\.(md|rst|txt|adoc)$|(^|/)(README|CHANGES|CHANGELOG|LICENSE|AUTHORS)[^/]*$",
    re.IGNORECASE,
)
SENSITIVE_PATH = re.compile(
    r"auth(?!or)|login|passw|secur|crypt|secret|token(?!i[sz])|session|permission|saml|jwt"
    r"|(?<![a-z])(acls?|sso)(?![a-z])"
    r"|(^|/)migrations?/|(^|/)\.github/|(^|/)\.gitlab-ci|Dockerfile|(^|/)setup\.py$"
    r"|(^|/)pyproject\.toml$|requirements[^/]*\.txt$|(^|/)settings\.py$",
    re.IGNORECASE,
)
RISKY_CALL = re.compile(
    r"\b(eval|exec)\(|os\.system\(|subprocess\.|shell\s*=\s*True|pickle\.loads?\("
    r"|yaml\.load\(|verify\s*=\s*False|marshal\.loads\("
)
COMMENT = re.compile(r"^\s*(#|//|\*|/\*|$)")
LOW, HIGH = 2.5, 5.0


@dataclass
class DiffStats:
    files: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    weighted: float = 0.0  # changed lines, code 1, tests ½, docs and comments ¼
    code: list[str] = field(default_factory=list)  # files neither tests nor docs
    tests: list[str] = field(default_factory=list)
    code_lines: int = 0
    risky_calls: list[str] = field(default_factory=list)  # "path: call"

    @property
    def lines(self) -> int:
        return self.added + self.removed

    @property
    def outside_tests(self) -> list[str]:
        return [f for f in self.files if not TEST_PATH.search(f)]


@dataclass
class Part:
    name: str
    points: float
    why: str


@dataclass
class Risk:
    score: float
    level: str  # low | medium | high
    parts: list[Part]  # every part that added points, largest first
    stats: DiffStats
    notes: list[str] = field(default_factory=list)  # what lowered no score but helps

    @property
    def reasons(self) -> list[str]:
        return [p.why for p in self.parts] + self.notes or ["small, clean change"]


def diff_stats(diff: str | None) -> DiffStats:
    stats = DiffStats()
    for f in parse(diff):
        stats.files.append(f.path)
        stats.added += f.added
        stats.removed += f.removed
        if TEST_PATH.search(f.path):
            stats.tests.append(f.path)
            stats.weighted += 0.5 * (f.added + f.removed)
        elif DOC_PATH.search(f.path):
            stats.weighted += 0.25 * (f.added + f.removed)
        else:
            stats.code.append(f.path)
            _code_lines(stats, f)
    return stats


def _code_lines(stats: DiffStats, f: FileDiff) -> None:
    for line in (line for h in f.hunks for line in h.lines if line.kind in ("add", "del")):
        if COMMENT.match(line.text):
            stats.weighted += 0.25
            continue
        stats.weighted += 1.0
        stats.code_lines += 1
        call = RISKY_CALL.search(line.text) if line.kind == "add" else None
        if call:
            stats.risky_calls.append(f"{f.path}: {call.group(0).rstrip('(')}")


COVERAGE = re.compile(r"(\d+(?:\.\d+)?)% of \d+ changed line")


def coverage_of(summary: str | None) -> float | None:
    """The percentage in a coverage gate's summary ("80% of 5 changed line(s) ...")."""
    match = COVERAGE.search(summary or "")
    return float(match.group(1)) if match else None


def assess(
    diff: str | None,
    advisory_failures: list[str],
    attempts: int,
    change_requests: int,
    coverage: float | None = None,
) -> Risk:
    stats = diff_stats(diff)
    sensitive = [f for f in stats.files if SENSITIVE_PATH.search(f)]
    parts = [
        Part(
            "size",
            min(3.0, 1.2 * math.log10(1 + stats.weighted)),
            f"{stats.lines} changed line(s) (+{stats.added} −{stats.removed})"
            f" in {len(stats.files)} file(s)",
        ),
        Part(
            "sensitive",
            min(4.0, 2.5 + 0.5 * (len(sensitive) - 1)) if sensitive else 0.0,
            "sensitive path(s): " + ", ".join(sensitive[:5]),
        ),
        Part(
            "untested",
            min(1.5, 0.25 * stats.code_lines) if stats.code and not stats.tests else 0.0,
            f"{len(stats.code)} code file(s) changed, no test changed",
        ),
        Part(
            "risky calls",
            2.0 if stats.risky_calls else 0.0,
            "adds " + ", ".join(stats.risky_calls[:3]),
        ),
        Part(
            "spread",
            min(2.0, 0.5 * max(len(stats.code) - 1, 0)),
            f"{len(stats.code)} code files changed",
        ),
        Part(
            "warnings",
            min(3.0, 1.0 * len(advisory_failures)),
            "advisory warning(s): " + ", ".join(advisory_failures),
        ),
        Part("attempts", 0.5 * max(attempts - 1, 0), f"needed {attempts} attempts"),
        Part("reviews", 1.0 * change_requests, f"{change_requests} change request(s) before"),
        Part(
            "coverage",
            (100 - coverage) / 50 if coverage is not None else 0.0,
            f"{coverage:.0f}% of the changed lines covered by the tests"
            if coverage is not None
            else "",
        ),
    ]
    parts = sorted((p for p in parts if p.points > 0.05), key=lambda p: -p.points)
    for p in parts:
        p.points = round(p.points, 1)
    score = round(sum(p.points for p in parts), 1)
    level = "low" if score < LOW else "medium" if score < HIGH else "high"
    notes = []
    if stats.tests:
        notes.append(f"{len(stats.tests)} test file(s) changed")
    if coverage is None:
        notes.append("coverage of changed lines: not measured")
    elif coverage >= 100:
        notes.append("every changed line covered by the tests")
    return Risk(score, level, parts, stats, notes)
