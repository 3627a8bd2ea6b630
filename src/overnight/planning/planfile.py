"""The plan on disk: one spec file per node (``NN-id.md``, its test patch beside it
as ``NN-id.tests.patch``) and ``plan.json``, which holds what a spec file cannot:
the edges between nodes (a spec's ``depends_on`` takes task ids, known only at
submit), the proofs, the base, the model, the prompt templates' hashes, and
after ``plan submit`` the task id of every node.

The human may edit the spec files and patches (``plan prove DIR`` proves them
again) or drop a node from ``plan.json``; ``plan submit`` re-checks everything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from overnight.errors import UsageError
from overnight.planning.answer import Node
from overnight.planning.context import Base
from overnight.planning.proof import NOT_APPLIED, PROVEN, Proof
from overnight.spec import parse_spec

PLAN_FILE = "plan.json"
UNTIL = ("ready", "merged")


@dataclass
class PlanNode:
    id: str
    title: str
    file: str  # the spec file, relative to the plan's folder
    depends_on: list[str] = field(default_factory=list)
    proof: dict[str, Any] = field(default_factory=dict)  # Proof.record()
    lint: list[str] = field(default_factory=list)  # the spec linter's errors
    task: int | None = None  # after submit

    @property
    def status(self) -> str:
        return str(self.proof.get("status", "unproven"))

    @property
    def patch_file(self) -> str:
        return self.file.removesuffix(".md") + ".tests.patch"


@dataclass
class Plan:
    repo: str
    base_ref: str
    base_sha: str
    until: str
    model: str
    prompts: dict[str, dict[str, str]]  # template name -> hash, source, path
    cost_usd: float | None  # what asking the model cost (None: unknown)
    tokens: int
    feature: str
    nodes: list[PlanNode] = field(default_factory=list)
    submitted_at: str | None = None

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(depends on, dependent) pairs."""
        return [(need, n.id) for n in self.nodes for need in n.depends_on]

    def deps(self) -> dict[str, list[str]]:
        return {n.id: list(n.depends_on) for n in self.nodes}

    def node(self, node_id: str) -> PlanNode:
        return next(n for n in self.nodes if n.id == node_id)

    def save(self, folder: Path) -> None:
        data = asdict(self)
        data["edges"] = [list(e) for e in self.edges]  # for readers; nodes' depends_on rule
        (folder / PLAN_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Plan:
        path = folder / PLAN_FILE
        if not path.is_file():
            raise UsageError(f"no {PLAN_FILE} in {folder}: give the folder 'overnight plan' wrote")
        try:
            data = json.loads(path.read_text())
            data.pop("edges", None)
            nodes = [PlanNode(**n) for n in data.pop("nodes")]
            plan = cls(**data, nodes=nodes)
        except (ValueError, TypeError, KeyError) as exc:
            raise UsageError(
                f"{path} cannot be read ({exc}): write it again with 'overnight plan'"
            ) from exc
        if plan.until not in UNTIL:
            raise UsageError(f"{path}: 'until' must be 'ready' or 'merged', not '{plan.until}'")
        return plan


def spec_text(node: Node, base: Base, tests: list[str], patch_file: str) -> str:
    """The spec file of ``node``: front matter the linter accepts (its ``depends_on``
    is added at submit, with task ids), the description as its body."""
    front: dict[str, Any] = {"title": node.title, "repo": base.repo, "base": base.ref}
    if node.scope:
        front["scope"] = {"allow": node.scope}
    acceptance: list[dict[str, Any]] = [{"tests": tests}] if tests else []
    front["acceptance"] = [*acceptance, {"test_patch": patch_file}]
    dumped = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    return f"---\n{dumped}---\n{node.description}\n"


def split_spec(text: str) -> tuple[str, str] | None:
    """A spec file's front matter with its ``---`` fences, and its body; None when it
    has no front matter."""
    lines = text.replace("\r\n", "\n").splitlines(keepends=True)
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() == "---":
                return "".join(lines[: index + 1]), "".join(lines[index + 1 :])
    return None


def write_node(folder: Path, number: int, node: Node, base: Base, proof: Proof) -> PlanNode:
    """Write the spec file and its test patch (as proven, or as the model gave it when it
    did not apply); lint it."""
    planned = PlanNode(node.id, node.title, f"{number:02d}-{node.id}.md", list(node.depends_on))
    patch = proof.patch if proof.status != NOT_APPLIED and proof.patch else node.test_patch
    tests = list(proof.outcomes) or proof.tests or node.tests  # the items collected, by name
    (folder / planned.patch_file).write_text(patch)
    text = spec_text(node, base, tests, planned.patch_file)
    (folder / planned.file).write_text(text)
    planned.proof = proof.record()
    planned.lint = lint_errors(folder, planned)
    return planned


def lint_errors(folder: Path, node: PlanNode) -> list[str]:
    """The spec linter's errors for ``node``'s file, each with its line."""
    path = folder / node.file
    if not path.is_file():
        return [f"{node.file} is missing"]
    _, problems = parse_spec(path.read_bytes(), folder)
    return [p.format(node.file) for p in problems if p.severity == "error"]


def submittable(node: PlanNode) -> bool:
    return node.status == PROVEN and not node.lint
