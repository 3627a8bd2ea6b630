"""Test patches as a spec names them: read from a regular file, bounded, as UTF-8
text, and touching only files inside the repository (never ``.git/``).

``git apply`` would refuse a path that leaves the repository when the task runs;
checking here refuses it at ``spec lint`` and ``submit``, naming the patch and the
path, before anything is queued.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path, PurePosixPath

from overnight.spec.limits import MAX_PATCH_CHARS

_HEADER = re.compile(r"^(---|\+\+\+|rename from|rename to|copy from|copy to) (.+)$")
_GIT_HEADER = re.compile(r"^diff --git (.+)$")
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_PREFIX = {"---": "a/", "+++": "b/"}
HOW = "make it with 'git diff' ('git diff --binary' for binary files)"


class PatchUnreadable(Exception):
    """Why a test patch file cannot be used; the message completes
    ``test_patch 'NAME' ...``."""


def read_patch(path: Path) -> str:
    """The text of the diff at ``path``, or PatchUnreadable saying why not."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise PatchUnreadable(f"is a directory ({path}): name the diff file")
        if not stat.S_ISREG(mode):
            raise PatchUnreadable(f"is not a regular file ({path}): name a diff file")
        with path.open("rb") as file:
            data = file.read(4 * MAX_PATCH_CHARS + 1)
    except OSError:
        raise PatchUnreadable(f"cannot be read at {path}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PatchUnreadable(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): {HOW}"
        ) from None
    if len(text) > MAX_PATCH_CHARS:
        raise PatchUnreadable(
            f"is too long (at most {MAX_PATCH_CHARS:,} characters are kept with a task): "
            "split it, or commit large fixtures to the repository"
        )
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise PatchUnreadable(f"holds a NUL character on line {line}: {HOW}")
    return text


def unsafe_paths(diff: str) -> list[tuple[str, str]]:
    """(path, what is wrong) for each path of ``diff`` that is absolute, leaves the
    repository (``..``) or lies under ``.git``: a test patch may touch none of them."""
    found = []
    for path in header_paths(diff):
        parts = PurePosixPath(path).parts
        if path.startswith("/"):
            found.append((path, "an absolute path"))
        elif ".." in parts:
            found.append((path, "a path out of the repository"))
        elif any(part.lower() == ".git" for part in parts):
            found.append((path, "a path inside .git/"))
        elif not parts:
            found.append((path, "an empty path"))
    return found


def header_paths(diff: str) -> list[str]:
    """Every path the file headers of ``diff`` name (old and new names, renames,
    copies); the lines of a hunk are skipped, so a removed line ``-- x`` is not
    taken for a ``--- x`` header."""
    paths: list[str] = []
    hunk_lines = 0  # old and new lines of the current hunk still to come
    for line in diff.splitlines():
        if hunk_lines > 0:
            context = line == "" or line.startswith(" ")  # in the old and the new lines
            hunk_lines -= 0 if line.startswith("\\") else 2 if context else 1
            continue
        hunk = _HUNK.match(line)
        if hunk:
            hunk_lines = sum(int(n) if n is not None else 1 for n in hunk.groups())
            continue
        git = _GIT_HEADER.match(line)
        if git and " b/" in git.group(1):
            old, new = git.group(1).rsplit(" b/", 1)
            paths += [old.removeprefix("a/"), new]
            continue
        header = _HEADER.match(line)
        if header:
            kind, name = header.groups()
            name = _unquote(name.split("\t", 1)[0].rstrip())
            if name != "/dev/null":
                paths.append(name.removeprefix(_PREFIX.get(kind, "")))
    return list(dict.fromkeys(paths))


def _unquote(name: str) -> str:
    """A path as git quotes it (``"b/t\\303\\251st.py"``), unquoted."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    try:
        raw = name[1:-1].encode("ascii").decode("unicode_escape").encode("latin-1")
        return raw.decode("utf-8", "replace")
    except (UnicodeError, ValueError):
        return name[1:-1]
