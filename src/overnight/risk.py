"""How risky a READY change is to approve, so the review queue can put the
safest first. A score is a sum of named parts, each shown to the reviewer:

    size        changed lines, capped              lines / 25, at most 8
    reach       files changed outside the tests    1.5 per file
    advisory    advisory gates that did not pass   3 per gate
    attempts    attempts the run needed            1 per extra attempt
    reviews     changes requested before           2 per request
    coverage    changed lines the tests never ran  (100 - coverage %) / 20, when a
                                                   coverage gate measured it

Only stored data is read: the delivered diff, the gate results of the
delivered attempt and the reviews.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.[^/]+$|(^|/)conftest\.py$")


@dataclass
class DiffStats:
    files: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    @property
    def lines(self) -> int:
        return self.added + self.removed

    @property
    def outside_tests(self) -> list[str]:
        return [f for f in self.files if not TEST_PATH.search(f)]


@dataclass
class Risk:
    score: float
    level: str  # low | medium | high
    reasons: list[str]
    stats: DiffStats


def diff_stats(diff: str | None) -> DiffStats:
    stats = DiffStats()
    for line in (diff or "").splitlines():
        if line.startswith("diff --git "):
            stats.files.append(line.rsplit(" b/", 1)[-1])
        elif line.startswith("+") and not line.startswith("+++"):
            stats.added += 1
        elif line.startswith("-") and not line.startswith("---"):
            stats.removed += 1
    return stats


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
    parts: list[tuple[float, str]] = [
        (
            min(stats.lines / 25, 8.0),
            f"{stats.lines} changed line(s) (+{stats.added} -{stats.removed})",
        ),
        (1.5 * len(stats.outside_tests), f"{len(stats.outside_tests)} file(s) outside the tests"),
        (
            3.0 * len(advisory_failures),
            "advisory: " + ", ".join(advisory_failures)
            if advisory_failures
            else "no advisory findings",
        ),
        (max(attempts - 1, 0) * 1.0, f"{attempts} attempt(s)"),
        (2.0 * change_requests, f"{change_requests} change request(s) before"),
        (
            (100 - coverage) / 20 if coverage is not None else 0.0,
            f"{coverage:.0f}% of the changed lines covered" if coverage is not None else "",
        ),
    ]
    score = round(sum(p for p, _ in parts), 1)
    level = "low" if score < 4 else "medium" if score < 10 else "high"
    reasons = [text for points, text in parts if points > 0] or ["small, clean change"]
    if coverage is None:
        reasons.append("coverage of changed lines: not measured")
    elif coverage >= 100:
        reasons.append("every changed line covered by the tests")
    return Risk(score, level, reasons, stats)
