"""What model calls cost: one rule for when a cost is known, one way to write it.

A cost is known only when every model call was recorded with a known price.
The built-in agent records each call as a turn; an agent run as a command
(``command:…``) calls its model itself, unrecorded, so its cost is unknown —
never $0 — and so is a sum that includes it. ``usd`` writes every cost the CLI,
the dashboard and the pull request show; ``total`` writes a sum over tasks
whose costs are partly unknown without adding the unknown ones as 0.
"""

from __future__ import annotations

from collections.abc import Iterable

UNKNOWN = "unknown"
COMMAND = "command:"  # the agents whose model calls are not recorded


def recorded(agent: str) -> bool:
    """Are this agent's model calls recorded, each with its cost?"""
    return not agent.startswith(COMMAND)


def spent(agent: str, costs: Iterable[float | None]) -> float | None:
    """USD of a task's or run's turns (None: unknown)."""
    costs = list(costs)
    if not recorded(agent) or None in costs:
        return None
    return round(sum(c for c in costs if c is not None), 6)


def usd(cost: float | None) -> str:
    """'$0.0123', or 'unknown'."""
    return UNKNOWN if cost is None else f"${cost:.4f}"


def total(costs: Iterable[float | None]) -> str:
    """A sum over tasks: '$0.0500', '$0.0500 + 2 task(s) of unknown cost'."""
    costs = list(costs)
    unknown = sum(c is None for c in costs)
    known = usd(sum(c for c in costs if c is not None))
    if not unknown:
        return known
    if unknown == len(costs):
        return f"{unknown} task(s) of unknown cost"
    return f"{known} + {unknown} task(s) of unknown cost"
