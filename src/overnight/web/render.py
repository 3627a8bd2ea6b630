"""Turning stored text into safe HTML.

Everything that comes from a task (spec, transcript, logs, diff, PR body) is
untrusted: it is either escaped by Jinja's autoescape (logs, and diffs, which
are read here into files and rows that the templates draw), or turned into
HTML by a renderer that escapes it (markdown-it with raw HTML disabled for
the PR body). Secrets that slipped into a log are masked before anything is
shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import zip_longest

from markdown_it import MarkdownIt
from markupsafe import Markup

from overnight.diffs import FileDiff, Hunk, Line, parse

MAX_DIFF_CHARS = 400_000
MAX_LOG_CHARS = 200_000

TOKEN = re.compile(  # credentials recognisable on their own
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bovn_[A-Za-z0-9_-]{20,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|(?<=://)[^\s:/@]+:[^\s@/]+(?=@)"  # user:password@ in a URL
)
ASSIGNED = re.compile(  # NAME_TOKEN=value, "password": "value" (logs and transcripts)
    r"(?P<key>\b[A-Za-z0-9_]*(?:api[_-]?key|token|secret|password|passwd)[A-Za-z0-9_]*"
    r"[\"']?[ \t]*[=:][ \t]*[\"']?)[A-Za-z0-9_+/=.~-]{6,}(?=[\s\"',;]|$)",
    re.IGNORECASE | re.MULTILINE,
)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
BIG_FILE = 400  # changed lines from which a file's diff starts folded


def redact(text: str | None, *, assignments: bool = True) -> str:
    """Mask what looks like a credential. ``assignments`` also masks the value
    of ``*_TOKEN=…``-like pairs (on for logs; off for diffs, where it would
    hide code under review)."""
    if not text:
        return ""
    text = TOKEN.sub(lambda m: m.group(0)[:4] + "•••", text)
    if assignments:
        text = ASSIGNED.sub(lambda m: m.group("key") + "•••", text)
    return text


@dataclass
class DiffView:
    """A diff as the task page draws it: files with counts, hunks with
    numbered lines, and for the split layout each hunk's rows side by side."""

    files: list[FileDiff] = field(default_factory=list)
    cut: int = 0  # characters not shown (the diff was longer than MAX_DIFF_CHARS)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)


def diff_view(diff: str | None) -> DiffView:
    """The diff read into files; credentials that look like keys are masked first."""
    text = redact(diff, assignments=False)
    cut = max(0, len(text) - MAX_DIFF_CHARS)
    return DiffView(parse(text[:MAX_DIFF_CHARS]), cut)


def split_rows(hunk: Hunk) -> list[tuple[Line | None, Line | None]]:
    """(old, new) pairs: context on both sides; each run of removed lines beside
    the added lines that follow it."""
    rows: list[tuple[Line | None, Line | None]] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        rows.extend(zip_longest(removed, added))
        removed.clear()
        added.clear()

    for line in hunk.lines:
        if line.kind == "del":
            if added:
                flush()
            removed.append(line)
        elif line.kind == "add":
            added.append(line)
        else:
            flush()
            rows.append((line, line))
    flush()
    return rows


def folded(file: FileDiff) -> bool:
    return file.added + file.removed >= BIG_FILE


def markdown_html(text: str | None) -> Markup:
    """Markdown with raw HTML shown as text and unsafe link schemes dropped."""
    return Markup(_markdown.render(redact(text))) if text else Markup("")


def clip(text: str | None, limit: int = MAX_LOG_CHARS) -> tuple[str, bool]:
    """(text, cut) — the first ``limit`` characters, redacted."""
    text = redact(text)
    return (text[:limit], True) if len(text) > limit else (text, False)


def line_count(text: str | None) -> int:
    """Lines as a viewer numbers them (a final newline ends a line, starts none)."""
    return len(text.splitlines()) if text else 0


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    return duration((now - moment).total_seconds()) + " ago"


def short_repo(repo: str) -> str:
    """The last path component of a repository path or URL."""
    name = repo.rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix(".git") or repo
