"""The model's answer, read strictly: one fenced JSON or YAML block that either asks
to read files or gives the specs of a plan.

A model's answer is untrusted data: every field is checked for its type and
bounds, unknown fields are refused, and the first problem found is the
``Malformed`` message sent back to the model (and, when the retries are used
up, the one line the command fails with)::

    {"read": ["src/app.py", "tests/"]}
    {"specs": [{"id": "add-mul", "title": "...", "description": "...",
                "scope": ["calc.py"], "tests": ["tests/test_mul.py::test_mul"],
                "test_patch": "--- /dev/null\\n+++ b/tests/test_mul.py\\n...",
                "depends_on": []}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from overnight.planning.graph import check_graph
from overnight.spec.acceptance import NODE_ID
from overnight.spec.frontmatter import load_front_matter
from overnight.spec.limits import MAX_TITLE, control_character
from overnight.spec.model import patched_files
from overnight.spec.patch import unsafe_paths

FENCE = re.compile(r"^```[ \t]*([A-Za-z]*)[ \t]*$")
ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SPEC_FIELDS = {"id", "title", "description", "scope", "tests", "test_patch", "depends_on"}
REQUIRED = ("id", "title", "description", "test_patch")
MAX_SPECS = 20
MAX_DESCRIPTION = 20_000


class Malformed(Exception):
    """What is wrong with an answer, in one line the model (and the user) can act on."""


@dataclass
class Node:
    """One spec of a plan as the model proposed it."""

    id: str
    title: str
    description: str
    test_patch: str
    scope: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """Either files to read first (``reads``) or the plan's ``nodes``."""

    reads: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)


def parse_answer(text: str, *, single: bool = False) -> Answer:
    """The answer in ``text``; ``single``: a draft, exactly one spec and no depends_on.
    Raises ``Malformed``."""
    data = _load(_block(text))
    if not isinstance(data, dict):
        raise Malformed("the block must hold a mapping with 'read' or 'specs'")
    keys = set(data)
    if keys == {"read"}:
        return Answer(reads=_reads(data["read"]))
    if keys != {"specs"}:
        extra = sorted(map(str, keys - {"read", "specs"}))
        what = (
            f"unknown key '{extra[0]}'"
            if extra
            else "both 'read' and 'specs'"
            if keys
            else "no key"
        )
        raise Malformed(f"the block has {what}: give either 'read' (a list) or 'specs'")
    specs = data["specs"]
    if not isinstance(specs, list) or not specs:
        raise Malformed("'specs' must be a non-empty list of specs")
    if single and len(specs) != 1:
        raise Malformed(f"'specs' has {len(specs)} specs: a draft is exactly one")
    if len(specs) > MAX_SPECS:
        raise Malformed(f"'specs' has {len(specs)} specs: at most {MAX_SPECS}, make them larger")
    nodes = [_node(item, i) for i, item in enumerate(specs)]
    seen: set[str] = set()
    for node in nodes:
        if node.id in seen:
            raise Malformed(f"id '{node.id}' is given twice: every spec needs its own id")
        seen.add(node.id)
    if single and nodes[0].depends_on:
        raise Malformed("a draft has no 'depends_on': leave it out")
    check_graph({n.id: n.depends_on for n in nodes}, Malformed)
    return Answer(nodes=nodes)


def _block(text: str) -> str:
    """The one fenced block of ``text``."""
    blocks: list[str] = []
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        stripped = line.strip()
        if not inside and FENCE.match(stripped):
            inside, lines = True, []
        elif inside and stripped == "```":
            blocks.append("\n".join(lines))
            inside = False
        elif inside:
            lines.append(line)
    if inside:
        raise Malformed("a fenced block is opened but never closed with ```")
    if len(blocks) != 1:
        raise Malformed(
            f"the answer has {len(blocks)} fenced blocks: exactly one (```json or ```yaml) "
            "is allowed"
        )
    return blocks[0]


def _load(block: str) -> Any:
    if block.lstrip().startswith(("{", "[")):
        try:
            return json.loads(block, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise Malformed(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    data, _, problems = load_front_matter(block + "\n")
    if problems:
        first = problems[0]
        raise Malformed(f"invalid YAML at line {max(first.line - 1, 1)}: {first.message}")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise Malformed(f"key '{key}' is given twice")
        found[key] = value
    return found


def _reads(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise Malformed("'read' must be a non-empty list of paths")
    paths = [p.strip().removeprefix("./") for p in value]
    for path in paths:
        if not path or path.startswith("/") or ".." in path.split("/") or control_character(path):
            raise Malformed(f"'read' names '{path}': give paths relative to the repository root")
    return paths


def _node(item: Any, i: int) -> Node:
    where = f"specs[{i}]"
    if not isinstance(item, dict):
        raise Malformed(f"{where} must be a mapping of fields")
    unknown = sorted(map(str, set(item) - SPEC_FIELDS))
    if unknown:
        raise Malformed(f"{where} has unknown field '{unknown[0]}' (known: {_known()})")
    for key in REQUIRED:
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise Malformed(f"{where}.{key} is required and must be a non-empty string")
    node_id = item["id"].strip()
    if not ID.match(node_id):
        raise Malformed(
            f"{where}.id '{node_id}' must be a slug: lowercase letters, digits and '-', "
            "at most 40 characters"
        )
    where = f"spec '{node_id}'"
    title = item["title"].strip()
    if len(title) > MAX_TITLE or control_character(title):
        raise Malformed(f"{where}: 'title' must be one line of at most {MAX_TITLE} characters")
    if len(item["description"]) > MAX_DESCRIPTION:
        raise Malformed(f"{where}: 'description' is over {MAX_DESCRIPTION:,} characters")
    patch = item["test_patch"].strip("\n") + "\n"
    files = patched_files(patch)
    if not files:
        raise Malformed(f"{where}: 'test_patch' is not a unified diff (--- a/..., +++ b/...)")
    unsafe = unsafe_paths(patch)
    if unsafe:
        raise Malformed(f"{where}: 'test_patch' touches '{unsafe[0][0]}', {unsafe[0][1]}")
    tests = _strings(item, "tests", where)
    for node in tests:
        if not NODE_ID.match(node):
            raise Malformed(f"{where}: '{node}' in 'tests' is not a pytest node id (file.py::name)")
    return Node(
        id=node_id,
        title=title,
        description=item["description"].strip(),
        test_patch=patch,
        scope=_strings(item, "scope", where),
        tests=tests,
        depends_on=_strings(item, "depends_on", where),
    )


def _strings(item: dict, key: str, where: str) -> list[str]:
    value = item.get(key) or []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise Malformed(f"{where}: '{key}' must be a list of strings")
    return [v.strip() for v in value]


def _known() -> str:
    return ", ".join(sorted(SPEC_FIELDS))
