"""Parse a spec and report every problem with its line.

``parse_spec`` never raises on bad input: it returns what it could build and
the list of problems. ``load_spec`` is the strict form used by ``submit``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from overnight.errors import SpecError
from overnight.spec.model import Budget, Dependency, Scope, Spec, TestPatch, patched_files

FIELDS = {
    "title", "repo", "base", "acceptance", "regression", "scope", "budget",
    "priority", "queue", "depends_on", "agent", "setup", "test_cmd",
}  # fmt: skip
BUDGET_FIELDS = {"attempts", "minutes", "usd", "tokens"}
SCOPE_FIELDS = {"allow", "deny"}
ACCEPTANCE_KINDS = {"tests", "run", "test_patch"}

VAGUE = re.compile(
    r"\b(improve[sd]?|clean(?:s|ed)?[ -]up|tidy|refactor|optimi[sz]e|better|nicer|"
    r"various|somehow|and so on|etc\.?)(?=\W|$)",
    re.IGNORECASE,
)
CRITERIA = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S|`[^`]+`", re.MULTILINE)
NODE_ID = re.compile(r"^[^\s:]+\.py(::.+)?$")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    severity: str = "error"  # or "warning"

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.severity}: {self.message}"


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Return (yaml text, body, line number where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return "".join(lines[1:]), "", len(lines) + 1


def parse_spec(text: str, base_dir: Path | None = None) -> tuple[Spec | None, list[Problem]]:
    """Parse spec text; file references resolve against ``base_dir``."""
    front, body, body_line = split_front_matter(text)
    if front is None:
        return None, [
            Problem(
                1,
                "no YAML front matter: start the file with '---', "
                "the fields, then '---' and the description",
            )
        ]
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (mark.line + 2, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(where[0], f"YAML error at column {where[1]}: {reason}")]
    if data is None:
        data, node = {}, None
    if not isinstance(data, dict):
        return None, [Problem(2, "front matter must be a mapping of fields")]
    return _Builder(data, node, body, body_line, base_dir or Path.cwd()).build()


def lint_text(text: str, base_dir: Path | None = None) -> list[Problem]:
    return parse_spec(text, base_dir)[1]


def load_spec(text: str, source: str = "<spec>", base_dir: Path | None = None) -> Spec:
    """Parse and check a spec; raise SpecError listing every error."""
    spec, problems = parse_spec(text, base_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None:
        lines = "; ".join(p.format(source) for p in errors)
        raise SpecError(f"{source} has {len(errors)} error(s): {lines}", problems)
    return spec


class _Builder:
    """Walks the front matter, collecting problems with their lines."""

    def __init__(self, data: dict, node: Any, body: str, body_line: int, base_dir: Path):
        self.data, self.body, self.body_line, self.base_dir = data, body, body_line, base_dir
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.item_lines: dict[str, list[int]] = {}
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[str(key.value)] = key.start_mark.line + 2
                if isinstance(value, yaml.SequenceNode):
                    self.item_lines[str(key.value)] = [v.start_mark.line + 2 for v in value.value]
                if isinstance(value, yaml.MappingNode):  # budget.usd, scope.allow, ...
                    for sub, _ in value.value:
                        self.lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 2

    def error(self, key: str, message: str, index: int | None = None) -> None:
        self.problems.append(Problem(self._line(key, index), message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message, "warning"))

    def _line(self, key: str, index: int | None = None) -> int:
        if index is not None and index < len(self.item_lines.get(key, [])):
            return self.item_lines[key][index]
        return self.lines.get(key) or self.lines.get(key.split(".")[0], 2)

    def build(self) -> tuple[Spec | None, list[Problem]]:
        for key in self.data:
            if key not in FIELDS:
                close = difflib.get_close_matches(str(key), sorted(FIELDS), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.error(str(key), f"unknown field '{key}'{hint}")
        title = self._str("title")
        if not title and not isinstance(self.data.get("title"), list | dict | bool):
            self.error("title", "'title' is required: one line saying what the change does")
        spec = Spec(title=title or "", description=self.body.strip())
        spec.repo = self._str("repo")
        spec.base = self._str("base")
        spec.agent = self._str("agent")
        spec.test_cmd = self._str("test_cmd")
        spec.setup = self._setup()
        spec.priority = self._int("priority", 0)
        spec.queue = self._str("queue") or "default"
        spec.regression = self._regression()
        spec.scope = self._scope()
        spec.budget = self._budget()
        spec.depends_on = self._depends_on()
        self._acceptance(spec)
        self._vagueness(spec)
        if not spec.description:
            self.warn(self.body_line, "no description: the agent will see only the title")
        failed = any(p.severity == "error" for p in self.problems)
        return (None if failed else spec), sorted(self.problems, key=lambda p: p.line)

    # -- scalar fields -------------------------------------------------------

    def _str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.error(key, f"'{key}' must be a string, not {_kind(value)}")
            return None
        return str(value).strip() or None

    def _int(self, key: str, default: int, within: dict | None = None) -> int:
        source = self.data if within is None else within
        value = source.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            name = key if within is None else f"budget.{key}"
            self.error(name, f"'{name}' must be an integer")
            return default
        return value

    def _setup(self) -> list[str] | None:
        value = self.data.get("setup")
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.error("setup", "'setup' must be a command or a list of commands")
        return None

    def _regression(self) -> str | list[str]:
        value = self.data.get("regression", "all")
        if value in ("all", "none"):
            return str(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            for i, node in enumerate(value):
                self._check_node_id("regression", node, i)
            return list(value)
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
        budget.attempts = self._int("attempts", budget.attempts, value)
        if budget.attempts < 1:
            self.error("budget.attempts", "'budget.attempts' must be at least 1")
        for key in ("minutes", "usd"):
            amount = value.get(key, getattr(budget, key))
            if amount is not None and (
                isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0
            ):
                self.error(f"budget.{key}", f"'budget.{key}' must be a positive number")
            else:
                setattr(budget, key, float(amount) if amount is not None else None)
        if "tokens" in value:
            budget.tokens = self._int("tokens", 0, value)
        return budget

    def _depends_on(self) -> list[Dependency]:
        value = self.data.get("depends_on")
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        deps = []
        for i, item in enumerate(items):
            if isinstance(item, int) and not isinstance(item, bool):
                deps.append(Dependency(task=item))
            elif (
                isinstance(item, dict)
                and isinstance(item.get("task"), int)
                and item.get("until", "ready") in ("ready", "merged")
            ):
                deps.append(Dependency(task=item["task"], until=item.get("until", "ready")))
            else:
                self.error(
                    "depends_on",
                    "each 'depends_on' entry must be a task id, or {task: ID, until: ready|merged}",
                    i,
                )
        return deps

    # -- acceptance ----------------------------------------------------------

    def _acceptance(self, spec: Spec) -> None:
        value = self.data.get("acceptance")
        if value is None:
            self.problems.append(
                Problem(
                    2,
                    "no acceptance criteria: add 'acceptance' with "
                    "'tests:' node ids, 'run:' commands or a 'test_patch:'",
                )
            )
            return
        if not isinstance(value, list):
            self.error(
                "acceptance",
                "'acceptance' must be a list of items "
                "(- tests: ..., - run: ..., - test_patch: ...)",
            )
            return
        for i, item in enumerate(value):
            if isinstance(item, str):
                self.error(
                    "acceptance",
                    f"acceptance item '{item}' is not executable: write "
                    "'- tests: <pytest node id>' or '- run: <command>'",
                    i,
                )
                continue
            if not isinstance(item, dict) or not (ACCEPTANCE_KINDS & set(item)):
                self.error(
                    "acceptance", "acceptance item needs one of 'tests', 'run', 'test_patch'", i
                )
                continue
            for key in set(item) - ACCEPTANCE_KINDS - {"hidden"}:
                self.error("acceptance", f"unknown acceptance key '{key}'", i)
            self._acceptance_item(spec, item, i)
        reported = any(  # a warning on an item does not make it executable
            p.line in self.item_lines.get("acceptance", []) and p.severity == "error"
            for p in self.problems
        )
        if not (spec.acceptance_tests or spec.acceptance_commands) and not reported:
            self.error("acceptance", "acceptance has nothing to execute")

    def _acceptance_item(self, spec: Spec, item: dict, i: int) -> None:
        if "tests" in item:
            tests = item["tests"]
            tests = [tests] if isinstance(tests, str) else tests
            if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
                self.error("acceptance", "'tests' must be a pytest node id or a list of them", i)
            else:
                for node in tests:
                    if self._check_node_id("acceptance", node, i):
                        spec.acceptance_tests.append(node)
        if "run" in item:
            cmd = item["run"]
            if not isinstance(cmd, str) or not cmd.strip():
                self.error("acceptance", "'run' must be a non-empty shell command", i)
            else:
                spec.acceptance_commands.append(cmd.strip())
        if "hidden" in item and "test_patch" not in item:
            self.error("acceptance", "'hidden' applies only to a 'test_patch' item", i)
        if "test_patch" in item:
            self._test_patch(spec, item, i)

    def _test_patch(self, spec: Spec, item: dict, i: int) -> None:
        rel, hidden = item["test_patch"], item.get("hidden", False)
        if not isinstance(hidden, bool):
            self.error("acceptance", "'hidden' must be true or false", i)
        if not isinstance(rel, str):
            self.error("acceptance", "'test_patch' must be the path of a diff file", i)
            return
        path = (self.base_dir / rel).expanduser().absolute()
        try:
            text = path.read_text()
        except OSError:
            self.error("acceptance", f"test_patch '{rel}' cannot be read at {path}", i)
            return
        files = patched_files(text)
        if not files:
            self.error("acceptance", f"test_patch '{rel}' is not a unified diff", i)
            return
        spec.test_patches.append(TestPatch(path=rel, text=text, hidden=bool(hidden)))
        if not any(
            t.split("::")[0] in files for t in spec.acceptance_tests + _later_tests(self.data)
        ):
            self.warn(
                self._line("acceptance", i),
                f"test_patch '{rel}' adds tests but no "
                "'tests:' item names them: list the node ids that must pass",
            )

    def _check_node_id(self, key: str, node: str, i: int) -> bool:
        if NODE_ID.match(node.strip()):
            return True
        self.error(key, f"'{node}' is not a pytest node id (path/to/test_file.py::test_name)", i)
        return False

    # -- wording -------------------------------------------------------------

    def _vagueness(self, spec: Spec) -> None:
        has_criteria = bool(CRITERIA.search(self.body))
        places = [(self._line("title"), spec.title)]
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


def _later_tests(data: dict) -> list[str]:
    tests: list[str] = []
    for item in data.get("acceptance") or []:
        if isinstance(item, dict):
            value = item.get("tests", [])
            tests += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
    return tests


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
