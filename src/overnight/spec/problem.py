"""A problem found in a spec: its line, what is wrong and what to do, its severity."""

from __future__ import annotations

from dataclasses import dataclass

from overnight.errors import one_line


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    severity: str = "error"  # or "warning"

    def __post_init__(self) -> None:  # a value quoted from the spec stays on one line
        object.__setattr__(self, "message", one_line(self.message))

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.severity}: {self.message}"
