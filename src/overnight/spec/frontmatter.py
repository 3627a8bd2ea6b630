"""The YAML front matter of a spec: split from the body, read into plain data.

Read strictly, with every problem on its line: a duplicate key is an error (PyYAML
would silently keep the last one), aliases are refused (a few lines of them can
expand to millions of values), nesting is bounded, and a value YAML cannot
build (``base: 2024-13-45`` looks like a date) is a YAML error, not a crash.
"""

from __future__ import annotations

from typing import Any

import yaml

from overnight.spec.limits import MAX_DEPTH
from overnight.spec.problem import Problem

FIRST_LINE = 2  # the front matter starts on line 2, after '---'


def split_front_matter(text: str) -> tuple[str | None, str | None, int]:
    """Return (yaml text, body, line number where the body starts); no yaml when
    the text does not open with '---', no body when the front matter is not closed."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return "".join(lines[1:]), None, len(lines) + 1


def load_front_matter(front: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """(data, its node tree, problems); data is None when YAML could not be read."""
    loader = _Loader(front)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + FIRST_LINE, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        return None, None, [Problem(line, f"YAML error at column {column}: {reason}")]
    finally:
        loader.dispose()
    return data, node, duplicate_keys(node)


def duplicate_keys(node: yaml.Node | None) -> list[Problem]:
    """A problem for every key given twice in one mapping, at any depth."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, _ in node.value:
            line = key.start_mark.line + FIRST_LINE
            if isinstance(key, yaml.ScalarNode) and key.value in first:
                problems.append(
                    Problem(
                        line,
                        f"duplicate key '{key.value}' (first on line {first[key.value]}): "
                        "keep one of them",
                    )
                )
            elif isinstance(key, yaml.ScalarNode):
                first[key.value] = line
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        for child in node.value:
            for part in child if isinstance(child, tuple) else (child,):
                problems += duplicate_keys(part)
    return problems


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases and deep nesting while it composes,
    and turning a value it cannot build into an error at that value."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in a spec: write the value out",
                event.start_mark,  # type: ignore[arg-type]
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {value!r} ({exc}): put it in quotes",
                node.start_mark,
            ) from exc
