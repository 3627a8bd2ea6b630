"""Hidden acceptance tests stay hidden: what feedback may say about them.

Feedback is the one thing from grading that reaches the agent. A failing
hidden acceptance test is reported by its node id and the type of its error,
never its message or traceback (they quote the test). And because the code
under test can read the hidden tests while they run and put them into any
message (a visible test's failure, a lint finding, a crash), every line of
feedback that carries text of a hidden test file is withheld before the agent
sees it. (An agent's code that encodes what it read, e.g. in base64, is not
caught by this filter: see docs/security.md.)
"""

from __future__ import annotations

import builtins
import re

from overnight.spec import Spec
from overnight.spec.model import patched_files

MIN_LINE = 12  # shorter lines (``)``, ``import os``) are everywhere: not evidence of a leak
WINDOW = 32  # any run of this many characters of hidden text gives a line away
WITHHELD = "[withheld: this line quotes a hidden acceptance test]"
ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
_TYPE = re.compile(r"^\s*(?:E\s+)?([A-Za-z_][\w.]*)")


def hidden_files(spec: Spec) -> set[str]:
    """Files only hidden test patches touch."""
    visible = {f for p in spec.visible_patches for f in patched_files(p.text)}
    return {f for p in spec.hidden_patches for f in patched_files(p.text)} - visible


def hidden_nodes(spec: Spec) -> set[str]:
    """Acceptance node ids that live in hidden files."""
    files = hidden_files(spec)
    return {node for node in spec.acceptance_tests if node.split("::", 1)[0] in files}


def error_type(message: str) -> str:
    """The error's type when it is one of Python's own (a class the code under test
    made up could carry anything), else a neutral word."""
    found = _TYPE.match(message or "")
    name = found.group(1).rsplit(".", 1)[-1] if found else ""
    return name if name in ERRORS else "an error"


def hidden_text(spec: Spec) -> str:
    """What the hidden patches add: the text that must not reach the agent."""
    added = []
    for patch in spec.hidden_patches:
        for line in patch.text.splitlines():
            if line.startswith("+") and not line.startswith("+++"):
                added.append(line[1:])
    return "\n".join(added)


class Withholder:
    """Withholds the lines of a text that quote hidden test code."""

    def __init__(self, hidden: str) -> None:
        self.lines = {
            norm for line in hidden.splitlines() if len(norm := _normal(line)) >= MIN_LINE
        }
        flat = _normal(hidden.replace("\n", " "))
        self.windows = {flat[i : i + WINDOW] for i in range(max(0, len(flat) - WINDOW + 1))}

    def __call__(self, text: str) -> str:
        if not self.lines and not self.windows:
            return text
        return "\n".join(WITHHELD if self.leaks(line) else line for line in text.splitlines())

    def leaks(self, line: str) -> bool:
        norm = _normal(line)
        if any(hidden in norm for hidden in self.lines):
            return True
        return any(norm[i : i + WINDOW] in self.windows for i in range(len(norm) - WINDOW + 1))


def _normal(text: str) -> str:
    return " ".join(text.split())
