"""Parse a spec and report every problem with its line.

``parse_spec`` never raises on bad input: it returns what it could build and
the list of problems. ``load_spec`` is the strict form used by ``submit``.
Values are checked against ``limits``, so a spec that lints is one ``submit``
queues and the store can hold.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

from overnight.agents.registry import AGENT_NAMES, agent_problem
from overnight.errors import SpecError
from overnight.spec.acceptance import NODE_ID, check_node_id, read_acceptance
from overnight.spec.frontmatter import load_front_matter, split_front_matter
from overnight.spec.limits import (
    INT_MAX,
    INT_MIN,
    MAX_ATTEMPTS,
    MAX_BASE,
    MAX_MINUTES,
    MAX_QUEUE,
    MAX_TITLE,
    MAX_TOKENS,
    MAX_USD,
    control_character,
    unstorable,
)
from overnight.spec.model import Budget, Dependency, Scope, Spec
from overnight.spec.problem import Problem
from overnight.spec.reader import Reader
from overnight.spec.text import check_text
from overnight.workspace import repo_problem

FIELDS = {
    "title",
    "repo",
    "base",
    "acceptance",
    "regression",
    "scope",
    "budget",
    "priority",
    "queue",
    "depends_on",
    "agent",
    "setup",
    "test_cmd",
}
BUDGET_FIELDS = {"attempts", "minutes", "usd", "tokens"}
SCOPE_FIELDS = {"allow", "deny"}
ONE_LINE = {"title", "repo", "base", "agent", "queue"}  # names, refs, a title: no line breaks
LENGTHS = {"title": MAX_TITLE, "base": MAX_BASE, "queue": MAX_QUEUE}
EMPTY = {  # what an empty optional field should be instead
    "repo": "give a path or git URL, or remove the line to use the repository you are in",
    "base": "name a branch, tag or commit, or remove the line to use the checked-out branch",
    "agent": f"name one ({AGENT_NAMES}), or remove the line to use the configured one",
    "queue": "name a queue, or remove the line to use 'default'",
    "test_cmd": "give the command, or remove the line to use the configured one",
}
MAXIMA = {"minutes": (MAX_MINUTES, " (a week)"), "usd": (MAX_USD, "")}

VAGUE = re.compile(
    r"\b(improve[sd]?|clean(?:s|ed)?[ -]up|tidy|refactor|optimi[sz]e|better|nicer|"
    r"various|somehow|and so on|etc\.?)(?=\W|$)",
    re.IGNORECASE,
)
CRITERIA = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S|`[^`]+`", re.MULTILINE)

__all__ = ["NODE_ID", "Problem", "lint_text", "load_spec", "parse_spec"]


def parse_spec(
    text: str | bytes, base_dir: Path | None = None
) -> tuple[Spec | None, list[Problem]]:
    """Parse spec text (bytes are decoded as UTF-8); file references resolve against
    ``base_dir``."""
    text, unreadable = check_text(text)
    if unreadable:
        return None, [unreadable]
    front, body, body_line = split_front_matter(text)
    if front is None:
        return None, [
            Problem(
                1,
                "no YAML front matter: start the file with '---', "
                "the fields, then '---' and the description",
            )
        ]
    if body is None:
        return None, [
            Problem(
                1,
                "the front matter opened here is never closed: put a line '---' after "
                "the last field, then the description",
            )
        ]
    data, node, problems = load_front_matter(front)
    if data is None and problems:
        return None, problems
    if data is None:
        data, node = {}, None
    if not isinstance(data, dict):
        return None, [Problem(2, "front matter must be a mapping of fields")]
    spec, found = _Builder(data, node, body, body_line, base_dir or Path.cwd()).build()
    problems = sorted(problems + found, key=lambda p: p.line)
    return (None if any(p.severity == "error" for p in problems) else spec), problems


def lint_text(text: str | bytes, base_dir: Path | None = None) -> list[Problem]:
    return parse_spec(text, base_dir)[1]


def load_spec(text: str | bytes, source: str = "<spec>", base_dir: Path | None = None) -> Spec:
    """Parse and check a spec; raise SpecError listing every error."""
    spec, problems = parse_spec(text, base_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None:
        lines = "; ".join(p.format(source) for p in errors)
        raise SpecError(f"{source} has {len(errors)} error(s): {lines}", problems)
    return spec


class _Builder(Reader):
    """Walks the front matter, collecting problems with their lines."""

    def build(self) -> tuple[Spec | None, list[Problem]]:
        for key in self.data:
            if key not in FIELDS:
                close = difflib.get_close_matches(str(key), sorted(FIELDS), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.error(str(key), f"unknown field '{key}'{hint}")
            elif key not in ONE_LINE and _unstorable(self.data[key]):
                self.error(key, f"'{key}' holds {_unstorable(self.data[key])}: remove it")
        title, given = self._str("title"), self.data.get("title")
        if given is None or (isinstance(given, str) and not given.strip()):
            self.error("title", "'title' is required: one line saying what the change does")
        spec = Spec(title=title or "", description=self.body.strip())
        spec.repo = self._str("repo")
        if spec.repo and repo_problem(spec.repo):
            self.error("repo", str(repo_problem(spec.repo)))
        spec.base = self._str("base")
        if spec.base and spec.base.startswith("-"):
            self.error(
                "base", f"'base' cannot start with '-' ({spec.base}): name a branch, tag or commit"
            )
        spec.agent = self._str("agent")
        if spec.agent and agent_problem(spec.agent):
            self.error("agent", str(agent_problem(spec.agent)))
        spec.test_cmd = self._str("test_cmd")
        spec.setup = self._setup()
        spec.priority = self._int("priority", 0, low=INT_MIN, high=INT_MAX)
        spec.queue = self._str("queue") or "default"
        spec.regression = self._regression()
        spec.scope = self._scope()
        spec.budget = self._budget()
        spec.depends_on = self._depends_on()
        read_acceptance(self, spec)
        self._vagueness(spec)
        if not spec.description:
            self.warn(self.body_line, "no description: the agent will see only the title")
        failed = any(p.severity == "error" for p in self.problems)
        return (None if failed else spec), sorted(self.problems, key=lambda p: p.line)

    # -- scalar fields -------------------------------------------------------

    def _str(self, key: str) -> str | None:
        """A string field: None when absent; an error when empty, not a string, not
        one line (names, refs, the title) or too long for the store."""
        if key not in self.data:
            return None
        value = self.data[key]
        if value is None or isinstance(value, str):
            text = value or ""
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = self.written.get(key, str(value))  # as written: `base: 1.10` is not 1.1
        else:
            quote = ": put it in quotes" if isinstance(value, bool | date) else ""
            self.error(key, f"'{key}' must be a string, not {_kind(value)}{quote}")
            return None
        text = text.strip()
        if not text:
            if key in EMPTY:
                self.error(key, f"'{key}' is empty: {EMPTY[key]}")
            return None
        bad = control_character(text) if key in ONE_LINE else None
        if bad:
            self.error(
                key,
                f"'{key}' must be one line without control characters; "
                f"it holds {bad}: put details in the description",
            )
            return None
        if len(text) > LENGTHS.get(key, len(text)):
            self.error(
                key,
                f"'{key}' is {len(text):,} characters long: at most "
                f"{LENGTHS[key]} fit (put details in the description)",
            )
            return None
        return text

    def _int(
        self,
        key: str,
        default: int,
        within: dict | None = None,
        low: int = INT_MIN,
        high: int = INT_MAX,
    ) -> int:
        source = self.data if within is None else within
        value = source.get(key, default)
        name = key if within is None else f"budget.{key}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, f"'{name}' must be an integer")
            return default
        if not low <= value <= high:
            bound = f"at least {low}" if value < low else f"at most {high}"
            self.error(name, f"'{name}' must be {bound}")
            return default
        return value

    def _setup(self) -> list[str] | None:
        if "setup" not in self.data:
            return None
        value = self.data["setup"]
        commands = [value] if isinstance(value, str) else value
        if not isinstance(commands, list) or not all(isinstance(v, str) for v in commands):
            self.error("setup", "'setup' must be a command or a list of commands")
            return None
        if not all(c.strip() for c in commands):
            self.error("setup", "'setup' has an empty command: remove it, or write the command")
            return None
        return list(commands)

    def _regression(self) -> str | list[str]:
        value = self.data.get("regression", "all")
        if value in ("all", "none"):
            return str(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            ids = [
                n.strip() for i, n in enumerate(value) if check_node_id(self, "regression", n, i)
            ]
            return ids
        self.error("regression", "'regression' must be 'all', 'none' or a list of test ids")
        return "all"

    def _scope(self) -> Scope:
        value = self.data.get("scope")
        if value is None:
            return Scope()
        if not isinstance(value, dict):
            self.error("scope", "'scope' must be a mapping with 'allow' and/or 'deny' globs")
            return Scope()
        for key in value:
            if key not in SCOPE_FIELDS:
                self.error(f"scope.{key}", f"unknown field 'scope.{key}' (use 'allow' or 'deny')")
        globs = {}
        for key in SCOPE_FIELDS:
            items = value.get(key, [])
            items = [items] if isinstance(items, str) else items
            if not isinstance(items, list) or not all(isinstance(g, str) for g in items):
                self.error(f"scope.{key}", f"'scope.{key}' must be a list of glob patterns")
                items = []
            elif not all(g.strip() and not control_character(g) for g in items):
                self.error(
                    f"scope.{key}",
                    f"'scope.{key}' has an empty pattern, or one that is "
                    "not one line: write each glob on its own line",
                )
                items = []
            globs[key] = items
        return Scope(allow=globs["allow"], deny=globs["deny"])

    def _budget(self) -> Budget:
        value = self.data.get("budget")
        budget = Budget()
        if value is None:
            return budget
        if not isinstance(value, dict):
            self.error("budget", "'budget' must be a mapping (attempts, minutes, usd, tokens)")
            return budget
        for key in value:
            if key not in BUDGET_FIELDS:
                self.error(f"budget.{key}", f"unknown field 'budget.{key}'")
        budget.attempts = self._int("attempts", budget.attempts, value, 1, MAX_ATTEMPTS)
        budget.minutes = self._amount(value, "minutes") or budget.minutes
        if value.get("usd") is not None:
            budget.usd = self._amount(value, "usd")
        if "tokens" in value:
            budget.tokens = self._int("tokens", 0, value, 1, MAX_TOKENS)
        return budget

    def _amount(self, budget: dict, key: str) -> float | None:
        """A positive, finite number of minutes or dollars, up to its maximum."""
        if key not in budget:
            return None
        amount, name = budget[key], f"budget.{key}"
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount > 0:
            self.error(name, f"'{name}' must be a positive number")
            return None
        highest, note = MAXIMA[key]
        if not math.isfinite(amount) or amount > highest:
            self.error(name, f"'{name}' must be at most {highest:g}{note}")
            return None
        return float(amount)

    def _depends_on(self) -> list[Dependency]:
        value = self.data.get("depends_on")
        if value is None:
            return []
        deps = []
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            entry = item if isinstance(item, dict) else {"task": item}
            task, until = entry.get("task"), entry.get("until", "ready")
            if isinstance(item, dict) and set(item) - {"task", "until"}:
                unknown = sorted(map(str, set(item) - {"task", "until"}))[0]
                self.error(
                    "depends_on",
                    f"unknown key '{unknown}' in a 'depends_on' entry (use 'task' and 'until')",
                    i,
                )
            elif (
                isinstance(task, bool)
                or not isinstance(task, int)
                or until not in ("ready", "merged")
            ):
                self.error(
                    "depends_on",
                    "each 'depends_on' entry must be a task id, or {task: ID, until: ready|merged}",
                    i,
                )
            elif not 1 <= task <= INT_MAX:
                self.error(
                    "depends_on",
                    f"'depends_on' names task {task}, but task ids run "
                    f"from 1 to {INT_MAX}: give the id 'overnight submit' printed",
                    i,
                )
            else:
                deps.append(Dependency(task=task, until=until))
        return deps

    # -- wording -------------------------------------------------------------

    def _vagueness(self, spec: Spec) -> None:
        has_criteria = bool(CRITERIA.search(self.body))
        places = [(self.line("title"), spec.title)]
        places += [(self.body_line + n, line) for n, line in enumerate(self.body.splitlines())]
        for line_no, line in places:
            for match in VAGUE.finditer(line or ""):
                word = match.group(1)
                message = (
                    f"vague wording '{word}': say what must be true afterwards "
                    "(a list of criteria, names, numbers)"
                )
                if has_criteria:
                    self.warn(line_no, message)
                else:
                    self.problems.append(Problem(line_no, message))


def _unstorable(value: Any) -> str | None:
    """A character hidden in a value YAML built (``"\\0"`` is a NUL) that no store
    keeps, described; None when there is none."""
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, dict):
        value = [part for pair in value.items() for part in pair]
    if isinstance(value, list):
        return next((found for v in value if (found := _unstorable(v))), None)
    return None


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
