"""Plain text inside Markdown (a pull request body, a reviewer's report), escaped so
that it renders as written.

File names, gate summaries and a reviewer's words are text, not Markdown: in
``__init__.py`` the underscores must not turn into bold. ``text`` escapes what
CommonMark would read as inline formatting (and, at a line's start, as a block:
a heading, a list, a quote); ``code`` makes a code span that holds any text.
"""

from __future__ import annotations

import re

INLINE = re.compile(r"([\\`*_\[\]<>|~!&])")
# what makes a line a heading, a quote, a list item, a rule or a setext underline
BLOCK_START = re.compile(r"^(\s*\d*)([#+=.)-])", re.MULTILINE)


def text(value: str) -> str:
    """``value`` escaped so that Markdown shows it literally."""
    return BLOCK_START.sub(r"\1\\\2", INLINE.sub(r"\\\1", value))


def code(value: str) -> str:
    """An inline code span holding ``value`` as it is (backticks in it included)."""
    value = value.replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"
