"""The front matter's data with the line of every field and item: what each
part of the lint reads, and where it records the problems it finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from overnight.spec.frontmatter import FIRST_LINE
from overnight.spec.problem import Problem


class Reader:
    """Fields, their lines (``budget.usd`` too, and each item of a list) and the
    problems found so far."""

    def __init__(self, data: dict, node: Any, body: str, body_line: int, base_dir: Path):
        self.data, self.body, self.body_line, self.base_dir = data, body, body_line, base_dir
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.item_lines: dict[str, list[int]] = {}
        self.written: dict[str, str] = {}  # scalars as the user wrote them
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[str(key.value)] = key.start_mark.line + FIRST_LINE
                if isinstance(value, yaml.ScalarNode):
                    self.written[str(key.value)] = value.value
                if isinstance(value, yaml.SequenceNode):
                    self.item_lines[str(key.value)] = [
                        v.start_mark.line + FIRST_LINE for v in value.value
                    ]
                if isinstance(value, yaml.MappingNode):  # budget.usd, scope.allow, ...
                    for sub, _ in value.value:
                        self.lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + FIRST_LINE

    def error(self, key: str, message: str, index: int | None = None) -> None:
        self.problems.append(Problem(self.line(key, index), message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message, "warning"))

    def line(self, key: str, index: int | None = None) -> int:
        if index is not None and index < len(self.item_lines.get(key, [])):
            return self.item_lines[key][index]
        return self.lines.get(key) or self.lines.get(key.split(".")[0], 2)
