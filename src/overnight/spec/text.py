"""Spec text as it arrives, before any YAML is read: decoded as UTF-8, bounded in
size, free of characters no store can hold.

Every way in passes here: a file or stdin (``read_spec``, bounded so a huge or
endless file is never read whole), the API and the dashboard (``check_text``
through ``parse_spec``). So one limit gives one message everywhere.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from overnight.errors import UsageError
from overnight.spec.limits import MAX_SPEC_CHARS
from overnight.spec.problem import Problem

MAX_SPEC_BYTES = 4 * MAX_SPEC_CHARS  # UTF-8 takes at most four bytes a character
BOM = "\ufeff"


def read_spec(name: str, stdin: BinaryIO) -> bytes:
    """The bytes of spec file ``name`` ('-': ``stdin``), at most one past the limit."""
    if name == "-":
        return stdin.read(MAX_SPEC_BYTES + 1)
    path = Path(name)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{name} is a directory: give the spec files in it")
        if not stat.S_ISREG(mode):
            raise UsageError(f"{name} is not a regular file: give a spec file, or '-' for stdin")
        with path.open("rb") as file:
            return file.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"no such spec file: {name}") from None
    except OSError as exc:
        raise UsageError(f"cannot read spec file {name}: {os.strerror(exc.errno or 0)}") from exc


def check_text(text: str | bytes) -> tuple[str, Problem | None]:
    """The spec as text (a UTF-8 byte order mark dropped), or the problem that stops
    it being read at all: not UTF-8, too long, a NUL."""
    if isinstance(text, bytes):
        data = text
        if len(data) > MAX_SPEC_BYTES:
            return "", too_long(f"more than {MAX_SPEC_BYTES:,} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return "", Problem(
                line,
                f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): "
                "a spec is Markdown; save it as UTF-8",
            )
    text = text.removeprefix(BOM)
    if len(text) > MAX_SPEC_CHARS:
        return "", too_long(f"{len(text):,} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text[: exc.start].count("\n") + 1
        return "", Problem(line, f"line {line} holds an unpaired surrogate: send the spec as UTF-8")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return "", Problem(line, f"line {line} holds a NUL character: remove it")
    return text, None


def too_long(size: str) -> Problem:
    return Problem(
        1,
        f"the spec is too long ({size}; at most {MAX_SPEC_CHARS:,} characters): "
        "keep the description to what the agent must know, and long material "
        "(data, logs) in the repository",
    )
