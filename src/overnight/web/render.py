"""Turning stored text into safe HTML.

Everything that comes from a task (spec, transcript, logs, diff, PR body) is
untrusted: it is either escaped by Jinja's autoescape, or turned into HTML
here by a renderer that escapes it (Pygments for diffs, markdown-it with raw
HTML disabled for the PR body). Secrets that slipped into a log are masked
before anything is shown.
"""

from __future__ import annotations

import re
from datetime import datetime

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

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
_diff_formatter = HtmlFormatter(nowrap=True, classprefix="hl-")


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


def diff_html(diff: str | None) -> Markup:
    """A unified diff, highlighted; Pygments escapes every token."""
    if not diff:
        return Markup("")
    text = redact(diff, assignments=False)
    note = ""
    if len(text) > MAX_DIFF_CHARS:
        text, note = text[:MAX_DIFF_CHARS], f"\n… diff cut at {MAX_DIFF_CHARS:,} characters"
    return Markup(highlight(text, DiffLexer(), _diff_formatter)) + escape(note)


def markdown_html(text: str | None) -> Markup:
    """Markdown with raw HTML shown as text and unsafe link schemes dropped."""
    return Markup(_markdown.render(redact(text))) if text else Markup("")


def clip(text: str | None, limit: int = MAX_LOG_CHARS) -> tuple[str, bool]:
    """(text, cut) — the first ``limit`` characters, redacted."""
    text = redact(text)
    return (text[:limit], True) if len(text) > limit else (text, False)


def line_count(text: str | None) -> int:
    return text.count("\n") + 1 if text else 0


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


def pygments_css() -> str:
    return _diff_formatter.get_style_defs(".diff")
