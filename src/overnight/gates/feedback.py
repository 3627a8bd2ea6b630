"""Condense failed gates into feedback for the next attempt, within a size budget."""

from __future__ import annotations

from overnight.gates import ERROR, FAIL, GateOutcome
from overnight.text import trim

BUDGET = 6000


def condense(results: list[GateOutcome], budget: int = BUDGET) -> str:
    failed = [r for r in results if r.verdict in (FAIL, ERROR)]
    failed.sort(key=lambda r: (not r.blocking, r.verdict != FAIL))
    if not failed:
        return ""
    bodies = [(r.feedback or r.summary).strip() for r in failed]
    parts = [
        "The previous attempt did not pass these gates. Fix the causes; do not weaken "
        "or skip tests, and do not edit the acceptance tests."
    ]
    for result, body, limit in zip(failed, bodies, shares(bodies, budget), strict=True):
        kind = "blocking" if result.blocking else "advisory"
        parts.append(f"## {result.name} ({result.verdict}, {kind})\n{trim(body, limit)}")
    return trim("\n\n".join(parts), budget)


def shares(bodies: list[str], budget: int) -> list[int]:
    """Each gate's part of the budget: short feedback is kept whole, and what it
    leaves unused goes to the longer ones (at least 500 characters each)."""
    room = budget - 200 - 40 * len(bodies)  # the preamble and the headings
    limits = [0] * len(bodies)
    pending = sorted(range(len(bodies)), key=lambda i: len(bodies[i]))
    while pending:
        fair = max(500, room // len(pending))
        i = pending.pop(0)
        limits[i] = min(len(bodies[i]), fair)
        room -= limits[i]
    return limits
