"""A place where a module does what a signal looks for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    signal: str  # one of the names in rules.py
    what: str  # what was found, worded the same wherever the same thing is found
    line: int
