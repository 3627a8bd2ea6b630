"""Condense failed gates into feedback for the next attempt, within a size budget."""

from __future__ import annotations

from overnight.gates import ERROR, FAIL, GateOutcome

BUDGET = 6000


def trim(text: str, limit: int) -> str:
    """Keep the head and the tail of long text, which is where the signal is."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head - 40
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[-tail:]}"


def condense(results: list[GateOutcome], budget: int = BUDGET) -> str:
    failed = [r for r in results if r.verdict in (FAIL, ERROR)]
    failed.sort(key=lambda r: (not r.blocking, r.verdict != FAIL))
    if not failed:
        return ""
    share = max(500, budget // len(failed))
    parts = [
        "The previous attempt did not pass these gates. Fix the causes; do not weaken "
        "or skip tests, and do not edit the acceptance tests."
    ]
    for result in failed:
        body = result.feedback or result.summary
        kind = "blocking" if result.blocking else "advisory"
        parts.append(f"## {result.name} ({result.verdict}, {kind})\n{trim(body, share)}")
    return trim("\n\n".join(parts), budget)
