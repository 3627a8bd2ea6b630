"""The run's minutes: how long its attempts took, split between the agent and the
gates, and what is left of ``budget.minutes`` (see ``Budget`` for what they bound).

The clock starts with the first attempt and carries the time recorded by earlier
starts of the run (its agent and gates steps), so a resumed run does not get its
minutes twice. Running out is a ``budget:`` failure, never a gate's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from overnight.pipeline.recorder import RunFailed
from overnight.spec.model import Budget, duration

PARTS = ("agent", "gates")


class Clock:
    def __init__(self, budget: Budget, spent: dict[str, float]) -> None:
        self.budget = budget
        self.spent = {part: spent.get(part, 0.0) for part in PARTS}
        self.deadline = time.monotonic() + budget.seconds - sum(self.spent.values())
        self.running: tuple[str, float] | None = None

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the time inside as the agent's or the gates'."""
        self.running = (name, time.monotonic())
        try:
            yield
        finally:
            self.spent[name] += time.monotonic() - self.running[1]
            self.running = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def agent_time(self) -> float:
        """What the next agent may use: what is left, less the grading reserve."""
        return max(self.left() - self.budget.grading_reserve, 0.0)

    def split(self) -> str:
        """'agent 45 s, gates 3 s', the running part included."""
        spent = dict(self.spent)
        if self.running is not None:
            spent[self.running[0]] += time.monotonic() - self.running[1]
        return ", ".join(f"{part} {duration(spent[part])}" for part in PARTS)

    def check_attempt(self, attempt: int, failing: list[str]) -> None:
        """Before an attempt: fail as ``budget:`` if its agent would get less than the
        reserve. ``failing``: the previous attempt's failing gates, for the reason."""
        left = self.left()
        if left >= self.budget.attempt_needs:
            return
        used = duration(self.budget.seconds - max(left, 0.0))
        reason = f"budget: {used} of {duration(self.budget.seconds)} spent"
        if attempt == 1:
            raise RunFailed(f"{reason} before the first attempt ({self.split()})")
        needs = duration(self.budget.attempt_needs)
        reason += (
            f" after attempt {attempt - 1} of {self.budget.attempts} ({self.split()}); "
            f"{duration(max(left, 0.0))} left, another attempt needs {needs}"
        )
        raise RunFailed(reason + (f"; its failing gates: {', '.join(failing)}" if failing else ""))

    def ran_out(self) -> bool:
        """Are the minutes spent? (A command is never given less than 1 s.)"""
        return self.left() < 1.0

    def cut_short(self, attempt: int) -> RunFailed:
        """The minutes ended while the gates ran: their commands were cut short by the
        budget, so their verdicts are no evidence."""
        return RunFailed(
            f"budget: {duration(self.budget.seconds)} spent during attempt "
            f"{attempt} ({self.split()}); its gates were cut short"
        )
