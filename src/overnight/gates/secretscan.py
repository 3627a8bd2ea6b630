"""Secrets in the lines a change adds: known key formats and high-entropy strings.

A small scanner of our own, in the spirit of detect-secrets' plugins (key
formats, keyword assignments, base64 and hex entropy), run only on added
lines, so it is fast and needs nothing installed. A line carrying
``pragma: allowlist secret`` (detect-secrets' marker) or ``nosec`` is skipped.
Findings show only the first characters of what was found.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

KEY_FORMATS: list[tuple[str, re.Pattern[str]]] = [
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Stripe key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Anthropic key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[\w-]{10,}")),
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s:@$<{]{3,}@")),
]
KEYWORD = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|auth|"
    r"credential)s?\w*[\"']?\s*(?::=|=|:)\s*[rbf]?[\"']([^\"'\s]{8,})[\"']"
)
QUOTED = re.compile(r"[\"']([A-Za-z0-9+/=_-]{20,})[\"']")
PLACEHOLDER = re.compile(r"(?i)x{4,}|\*{3,}|change.?me|example|dummy|fake|placeholder|your[_-]|"
                         r"redacted|\$\{|<[a-z_]+>|^test|test$")  # fmt: skip
HEX = set("0123456789abcdefABCDEF")
ALLOW = ("pragma: allowlist secret", "nosec")


@dataclass(frozen=True)
class Secret:
    path: str
    line: int
    kind: str
    preview: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.preview})"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def scan(added: dict[str, dict[int, str]]) -> list[Secret]:
    """Secrets in added lines (path -> line number -> text)."""
    found = []
    for path, lines in added.items():
        for number, text in sorted(lines.items()):
            if any(marker in text for marker in ALLOW):
                continue
            hit = scan_line(text)
            if hit:
                found.append(Secret(path, number, hit[0], _preview(hit[1])))
    return found


def scan_line(text: str) -> tuple[str, str] | None:
    """(kind, what matched) for the first secret on a line, or None."""
    for kind, pattern in KEY_FORMATS:
        m = pattern.search(text)
        if m:
            return kind, m.group(0)
    m = KEYWORD.search(text)
    if m and not PLACEHOLDER.search(m.group(1)) and entropy(m.group(1)) >= 3.0:
        return "hard-coded credential", m.group(1)
    for m in QUOTED.finditer(text):  # hex alone (hashes, ids) counts only when named so
        value = m.group(1)
        if set(value) <= HEX or PLACEHOLDER.search(value) or not _mixed(value):
            continue
        if entropy(value) >= 4.5:
            return "high-entropy string", value
    return None


def _mixed(value: str) -> bool:
    """Random-looking: digits and letters (a long word or identifier is not a key)."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _preview(value: str) -> str:
    return value[:6] + "…" if len(value) > 6 else value
