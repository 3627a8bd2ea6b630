"""The spec model: what the user writes, normalised.

A spec is stored with the task as ``Spec.to_dict()``; test patches are kept
inline so a queued task never depends on files that may change later.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_ATTEMPTS = 3
DEFAULT_MINUTES = 30.0


@dataclass
class TestPatch:
    """A diff of acceptance tests applied before grading."""

    __test__ = False  # not a pytest test class

    path: str
    text: str
    hidden: bool = False


@dataclass
class Scope:
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


@dataclass
class Budget:
    attempts: int = DEFAULT_ATTEMPTS
    minutes: float = DEFAULT_MINUTES
    usd: float | None = None
    tokens: int | None = None


@dataclass
class Dependency:
    task: int
    until: str = "ready"  # or "merged"


@dataclass
class Spec:
    title: str
    description: str = ""
    repo: str | None = None
    base: str | None = None
    acceptance_tests: list[str] = field(default_factory=list)
    acceptance_commands: list[str] = field(default_factory=list)
    test_patches: list[TestPatch] = field(default_factory=list)
    regression: str | list[str] = "all"
    scope: Scope = field(default_factory=Scope)
    budget: Budget = field(default_factory=Budget)
    priority: int = 0
    queue: str = "default"
    depends_on: list[Dependency] = field(default_factory=list)
    agent: str | None = None
    setup: list[str] | None = None
    test_cmd: str | None = None
    instance_id: str | None = None  # set for tasks made by `eval run`

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def hidden_patches(self) -> list[TestPatch]:
        return [p for p in self.test_patches if p.hidden]

    @property
    def visible_patches(self) -> list[TestPatch]:
        return [p for p in self.test_patches if not p.hidden]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        data = dict(data)
        data["test_patches"] = [TestPatch(**p) for p in data.get("test_patches", [])]
        data["scope"] = Scope(**data.get("scope", {}))
        data["budget"] = Budget(**data.get("budget", {}))
        data["depends_on"] = [Dependency(**d) for d in data.get("depends_on", [])]
        return cls(**data)

    def for_agent(self) -> str:
        """The spec as the agent sees it: hidden acceptance tests left out."""
        lines = [f"# {self.title}", "", self.description.strip(), ""]
        if self.acceptance_tests or self.acceptance_commands:
            lines.append("## Acceptance")
            visible = {path for p in self.visible_patches for path in patched_files(p.text)}
            hidden = {path for p in self.hidden_patches for path in patched_files(p.text)}
            for node in self.acceptance_tests:
                file = node.split("::", 1)[0]
                if file in hidden and file not in visible:
                    continue
                lines.append(f"- test must pass: `{node}`")
            for cmd in self.acceptance_commands:
                lines.append(f"- command must exit 0: `{cmd}`")
            if self.hidden_patches:
                lines.append("- hidden acceptance tests will grade the change")
            lines.append("")
        if self.scope.allow or self.scope.deny:
            lines.append("## Scope")
            lines += [f"- may change: `{g}`" for g in self.scope.allow]
            lines += [f"- must not change: `{g}`" for g in self.scope.deny]
            lines.append("")
        return "\n".join(lines)


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "task"


_DIFF_FILE = re.compile(r"^\+\+\+ (?:b/)?(.+?)\s*$", re.MULTILINE)
_DIFF_OLD = re.compile(r"^--- (?:a/)?(.+?)\s*$", re.MULTILINE)


def patched_files(diff: str) -> list[str]:
    """Paths a unified diff touches (new names, and old names of deletions)."""
    files = [m for m in _DIFF_FILE.findall(diff) if m != "/dev/null"]
    files += [m for m in _DIFF_OLD.findall(diff) if m != "/dev/null" and m not in files]
    return files
