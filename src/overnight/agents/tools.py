"""What the model asks for, as shell commands: the text protocol's fenced block,
or a native tool call (``bash``, ``view``, ``edit``, ``submit``).

Every action becomes one command for the task's sandbox; nothing touches the
workspace from the worker. ``submit`` is not a command: it ends the attempt.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from overnight.llm import Reply

SUBMIT = "submit"
FENCE = re.compile(r"```(?:bash|sh|shell)[ \t]*\n(.*?)```", re.DOTALL)

TOOLS: list[dict[str, Any]] = [
    {
        "name": "bash",
        "description": "Run a shell command with bash in the repository root; returns its "
        "output and exit code. Nothing interactive.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
    {
        "name": "view",
        "description": "Show a file with line numbers (optionally only lines start..end).",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "start": {"type": "integer"},
                "end": {"type": "integer"},
            },
            "required": ["path"],
        },
    },
    {
        "name": "edit",
        "description": "Replace the one occurrence of `old` in a file with `new` (exact text; "
        "`old` must occur exactly once). An empty `old` creates the file with `new`.",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "old": {"type": "string"},
                "new": {"type": "string"},
            },
            "required": ["path", "old", "new"],
        },
    },
    {
        "name": "submit",
        "description": "End your work: the change is complete and tested.",
        "parameters": {"type": "object", "properties": {}},
    },
]

EDIT_SCRIPT = """
import pathlib, sys
path, old, new = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
if not old:
    if path.exists():
        sys.exit(f"edit refused: {path} exists; give the text to replace as old")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    sys.exit(print(f"created {path}"))
text = path.read_text()
count = text.count(old)
if count != 1:
    sys.exit(f"edit refused: the old text occurs {count} times in {path}; it must occur once")
path.write_text(text.replace(old, new, 1))
print(f"edited {path}")
"""


@dataclass
class Action:
    command: str | None  # None: submit
    call_id: str | None = None  # the tool call answered (native tools only)
    label: str = ""  # as shown in transcripts

    @property
    def submit(self) -> bool:
        return self.command is None


class FormatError(Exception):
    """The answer holds no usable action; ``reason`` picks the message sent back."""

    def __init__(self, count: int, submit_mixed: bool = False) -> None:
        super().__init__(f"{count} command block(s)")
        self.count, self.submit_mixed = count, submit_mixed


def parse_text(content: str) -> Action:
    """Exactly one fenced bash block; ``submit`` alone in it ends the attempt."""
    blocks = [b.strip() for b in FENCE.findall(content)]
    if len(blocks) != 1 or not blocks[0]:
        raise FormatError(len(blocks) if blocks != [""] else 0)
    command = blocks[0]
    lines = [line.strip() for line in command.splitlines() if line.strip()]
    if lines == [SUBMIT]:
        return Action(None, label=SUBMIT)
    if SUBMIT in lines:
        raise FormatError(1, submit_mixed=True)
    return Action(command, label=command)


def parse_tools(reply: Reply) -> list[Action]:
    """One action per tool call; an answer without calls may still hold a bash block."""
    if not reply.tool_calls:
        return [parse_text(reply.content)]
    return [tool_action(c.name, c.arguments, c.id) for c in reply.tool_calls]


def tool_action(name: str, args: dict[str, Any], call_id: str) -> Action:
    label = f"{name}({json.dumps(args)[:300]})"
    if name == SUBMIT:
        return Action(None, call_id, label)
    if name == "bash" and isinstance(args.get("command"), str):
        return Action(args["command"], call_id, args["command"])
    if name == "view" and isinstance(args.get("path"), str):
        start, end = int(args.get("start") or 1), int(args.get("end") or 0)
        lines = f"{start},{end}p" if end else f"{start},$p"
        return Action(f"cat -n -- {shlex.quote(args['path'])} | sed -n '{lines}'", call_id, label)
    if name == "edit" and all(isinstance(args.get(k), str) for k in ("path", "old", "new")):
        quoted = " ".join(shlex.quote(args[k]) for k in ("path", "old", "new"))
        return Action(f"python3 -c {shlex.quote(EDIT_SCRIPT)} {quoted}", call_id, label)
    bad = f"echo {shlex.quote(f'unknown tool or bad arguments: {label}')} >&2; exit 2"
    return Action(bad, call_id, label)
