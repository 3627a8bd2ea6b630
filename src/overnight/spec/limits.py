"""The bounds of a spec's values, in one place: what the store can hold and what a
run may sensibly spend. ``spec lint`` and every way of submitting (CLI, API,
dashboard) check against these, so a spec that lints is one the database takes.
"""

from __future__ import annotations

import unicodedata

MAX_SPEC_CHARS = 100_000  # a spec is a page or two
MAX_PATCH_CHARS = 1_000_000  # one test patch, kept inline with the task
MAX_TITLE = 300  # tasks.title and pull_requests.title are VARCHAR(300)
MAX_QUEUE = 100  # tasks.queue is VARCHAR(100)
MAX_BASE = 255  # tasks.base_ref is VARCHAR(255)
MAX_DEPTH = 20  # nesting of the front matter; a spec needs four levels
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # an INTEGER column on PostgreSQL (priority, ids)
MAX_ATTEMPTS = 100
MAX_MINUTES = 7 * 24 * 60  # a week
MAX_USD = 100_000.0
MAX_TOKENS = 10_000_000_000

LINE_BREAKS = {"\u2028", "\u2029"}  # str.splitlines breaks there too


def control_character(text: str) -> str | None:
    """The first control character, line break or unpaired surrogate of ``text``,
    described for a message (``U+000A (a line break)``), or None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs") or char in LINE_BREAKS:
            return describe(char)
    return None


def unstorable(text: str) -> str | None:
    """The first character of ``text`` no database can store (a NUL, an unpaired
    surrogate), described for a message, or None."""
    if "\x00" in text:
        return describe("\x00")
    bad = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
    return describe(bad) if bad else None


def describe(char: str) -> str:
    names = {
        "\n": "a line break",
        "\r": "a carriage return",
        "\t": "a tab",
        "\x00": "a NUL",
        "\x1b": "an escape",
    }
    name = names.get(char) or (
        "a line break"
        if char in LINE_BREAKS
        else "an unpaired surrogate: a byte that was not UTF-8"
        if "\ud800" <= char <= "\udfff"
        else "a control character"
    )
    return f"U+{ord(char):04X} ({name})"
