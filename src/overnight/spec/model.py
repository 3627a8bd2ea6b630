"""The spec model: what the user writes, normalised.

A spec is stored with the task as ``Spec.to_dict()``; test patches are kept
inline so a queued task never depends on files that may change later.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from overnight.agents.library import PromptSet

DEFAULT_ATTEMPTS = 3
DEFAULT_MINUTES = 30.0
GRADING_SHARE, GRADING_MAX = 0.25, 120.0  # of the minutes, kept for the gates (seconds)


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
    """What one run may spend. ``minutes`` bound its attempts: every agent and every
    gates step together, from the start of the first attempt (preparing the clones
    and measuring the baseline are not counted). An agent stops when only the
    grading reserve is left, so the gates can grade its work within the minutes;
    another attempt starts only if its agent would get at least the reserve."""

    attempts: int = DEFAULT_ATTEMPTS
    minutes: float = DEFAULT_MINUTES
    usd: float | None = None
    tokens: int | None = None

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def grading_reserve(self) -> float:
        """Seconds an agent leaves for the gates: a quarter of the minutes, at most 2 min."""
        return min(GRADING_SHARE * self.seconds, GRADING_MAX)

    @property
    def attempt_needs(self) -> float:
        """Seconds that must be left to start another attempt: its agent gets at least
        the reserve, the gates the reserve."""
        return 2 * self.grading_reserve

    def describe(self) -> str:
        """E.g. '3 attempt(s) in 1 min: agent up to 45 s, grading reserve 15 s'."""
        whole, reserve = self.seconds, self.grading_reserve
        return (
            f"{self.attempts} attempt(s) in {duration(whole)}: agent up to "
            f"{duration(whole - reserve)}, grading reserve {duration(reserve)}"
        )


def duration(seconds: float) -> str:
    """A span of time as people say it: '45 s', '22.5 min', '9 h 58 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{round(seconds / 60, 1):g} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


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
    # set for tasks an evaluation configuration queued: the prompts it names, as text
    prompts: PromptSet | None = None

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
        if data.get("prompts") is not None:
            data["prompts"] = PromptSet(**data["prompts"])
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
