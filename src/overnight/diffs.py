"""Unified diffs (as ``git diff --binary --full-index`` writes them) read into
files, hunks and numbered lines: for the dashboard's diff view and the review
queue's risk score.

The text is agent-written, so the reader trusts nothing in it: a hunk takes
exactly the lines its header counts (a removed line reading ``--- x`` or
``diff --git`` stays a removed line), binary patches are skipped whole, and
anything it cannot place is kept as a note rather than dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
GIT_HEADER = re.compile(
    r'^diff --git (?:a/(?P<a>.+?)|"a/(?P<qa>.+?)") (?:b/(?P<b>.+)|"b/(?P<qb>.+)")$'
)
ESCAPES = {
    "n": "\n",
    "t": "\t",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "r": "\r",
}


@dataclass
class Line:
    kind: str  # "context", "add", "del" or "note" ("\\ No newline at end of file")
    text: str
    old: int | None = None  # line number in the old file
    new: int | None = None  # line number in the new file


@dataclass
class Hunk:
    header: str  # "@@ -1,2 +1,6 @@ def add" as written
    lines: list[Line] = field(default_factory=list)


@dataclass
class FileDiff:
    old_path: str | None  # None: added
    new_path: str | None  # None: deleted
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False
    mode: str = ""  # "new file mode 100644", "old mode … new mode …"
    added: int = 0
    removed: int = 0
    marked: bool = field(default=False, repr=False)  # its ---/+++ lines were read

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"

    @property
    def status(self) -> str:
        if self.old_path is None:
            return "added"
        if self.new_path is None:
            return "deleted"
        return "renamed" if self.old_path != self.new_path else "modified"


def parse(text: str | None) -> list[FileDiff]:
    """The files of a unified diff, in order, with numbered lines."""
    files: list[FileDiff] = []
    lines = (text or "").split("\n")  # not splitlines(): \r, \f or U+2028 is content here
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            files.append(_from_git_header(line))
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if not files or files[-1].hunks or files[-1].marked:
                files.append(FileDiff(None, None))  # a plain unified diff: no git header
            current = files[-1]
            current.old_path, current.new_path = _path(line[4:]), _path(lines[i + 1][4:])
            current.marked = True
            i += 1
        elif files and (match := HUNK.match(line)):
            i = _read_hunk(files[-1], match, lines, i)
            continue
        elif files:
            _header_line(files[-1], line)
        i += 1
    return files


def _read_hunk(file: FileDiff, match: re.Match[str], lines: list[str], i: int) -> int:
    """Read the hunk whose header is ``lines[i]``; return the index after it."""
    old, old_count = int(match.group(1)), int(match.group(2) or 1)
    new, new_count = int(match.group(3)), int(match.group(4) or 1)
    hunk = Hunk(lines[i])
    file.hunks.append(hunk)
    i += 1
    while i < len(lines) and (old_count > 0 or new_count > 0 or lines[i].startswith("\\")):
        line = lines[i]
        mark, body = line[:1], line[1:]
        if mark == "+" and new_count > 0:
            hunk.lines.append(Line("add", body, new=new))
            new, new_count, file.added = new + 1, new_count - 1, file.added + 1
        elif mark == "-" and old_count > 0:
            hunk.lines.append(Line("del", body, old=old))
            old, old_count, file.removed = old + 1, old_count - 1, file.removed + 1
        elif mark in (" ", "") and old_count > 0 and new_count > 0:
            hunk.lines.append(Line("context", body, old=old, new=new))
            old, new, old_count, new_count = old + 1, new + 1, old_count - 1, new_count - 1
        elif mark == "\\":
            hunk.lines.append(Line("note", line))
        else:
            break  # a hunk shorter than its header says: stop where it stops
        i += 1
    return i


def _from_git_header(line: str) -> FileDiff:
    match = GIT_HEADER.match(line)
    if not match:
        return FileDiff("?", "?")
    a = match.group("a") or _unquote(match.group("qa"))
    b = match.group("b") or _unquote(match.group("qb"))
    return FileDiff(a, b)


def _header_line(file: FileDiff, line: str) -> None:
    if line.startswith("new file mode"):
        file.old_path, file.mode = None, line
    elif line.startswith("deleted file mode"):
        file.new_path, file.mode = None, line
    elif line.startswith(("old mode", "new mode")):
        file.mode = f"{file.mode} {line}".strip()
    elif line.startswith("rename from "):
        file.old_path = _path(line[len("rename from ") :], prefix="")
    elif line.startswith("rename to "):
        file.new_path = _path(line[len("rename to ") :], prefix="")
    elif line.startswith(("Binary files ", "GIT binary patch")):
        file.binary = True


def _path(raw: str, prefix: str = "ab") -> str | None:
    raw = raw.split("\t", 1)[0]
    if raw == "/dev/null":
        return None
    if raw.startswith('"') and raw.endswith('"') and len(raw) > 1:
        raw = _unquote(raw[1:-1])
    if prefix and len(raw) > 2 and raw[0] in prefix and raw[1] == "/":
        raw = raw[2:]
    return raw


def _unquote(text: str) -> str:
    """Git's C-style quoting of unusual paths (``"a/caf\\303\\251"``)."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567" and re.match(r"[0-7]{3}", text[i + 1 : i + 4]):
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
                continue
            out += ESCAPES.get(nxt, nxt).encode()
            i += 2
            continue
        out += ch.encode()
        i += 1
    return out.decode("utf-8", "replace")
