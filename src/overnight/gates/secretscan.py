"""Secrets in the lines a change adds: known key formats and high-entropy strings.

A small scanner of our own, in the spirit of detect-secrets' plugins (key
formats, keyword assignments, base64 and hex entropy), run only on added
lines, so it is fast and needs nothing installed. A line carrying
``pragma: allowlist secret`` (detect-secrets' marker) or ``nosec`` is skipped.
Findings show only the first characters of what was found.

``scan_passed`` looks for the keys passed to the agent on purpose (their exact
values, see ``overnight.masking``) in added lines and in file names; no marker
skips it, and its findings name the variable, never the value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from overnight.masking import Mask

KEY_FORMATS: list[tuple[str, re.Pattern[str]]] = [
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Stripe key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{34}\b")),
    ("Replicate token", re.compile(r"\br8_[A-Za-z0-9]{37}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("PyPI token", re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[\w-]{10,}")),
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s:@$<{]{3,}@")),
]
# Model providers' keys: a prefix, then a part of 17 characters or more (so a whole key
# from 20) that must look random (``_random_run``): ``sk-learn``, ``sk-fading-circle``
# or ``xai-grok-beta`` do not.
PROVIDER_KEYS: list[tuple[str, re.Pattern[str]]] = [
    ("Anthropic key", re.compile(r"\bsk-ant-(?:[a-z]+\d*-)?([A-Za-z0-9_-]{17,})")),
    (
        "OpenAI-style key (sk-)",
        re.compile(  # OpenAI, OpenRouter, DeepSeek, LiteLLM...
            r"\bsk-(?:(?:proj|svcacct|admin|None|or-v1)-)?([A-Za-z0-9_-]{17,})"
        ),
    ),
    ("Groq key", re.compile(r"\bgsk_([A-Za-z0-9]{17,})")),
    ("xAI key", re.compile(r"\bxai-([A-Za-z0-9]{17,})")),
    ("Perplexity key", re.compile(r"\bpplx-([A-Za-z0-9]{17,})")),
]
KEYWORD = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|auth|"
    r"credential)s?\w*[\"']?\s*(?::=|=|:)\s*[rbf]?[\"']([^\"'\s]{8,})[\"']"
)
QUOTED = re.compile(r"[\"']([A-Za-z0-9+/=_-]{20,})[\"']")
PLACEHOLDER = re.compile(
    r"(?i)x{4,}|\*{3,}|change.?me|example|dummy|fake|placeholder|your[_-]|"
    r"redacted|\$\{|<[a-z_]+>|^test|test$"
)
HEX = set("0123456789abcdefABCDEF")
ALLOW = ("pragma: allowlist secret", "nosec")
PASSED = "a key passed on purpose (agent_env or the model key)"


@dataclass(frozen=True)
class Secret:
    path: str
    line: int
    kind: str
    preview: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.kind}" + (f" ({self.preview})" if self.preview else "")


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


def scan_passed(paths: list[str], added: dict[str, dict[int, str]], mask: Mask) -> list[Secret]:
    """Changed file names and added lines that hold a passed key (or its mask: a
    change restored from the store carries the mask where the key was)."""
    found = []
    for path in paths:
        shown = mask.text(path)
        found += [
            Secret(shown, 0, f"its name holds the value of ${name}, {PASSED}", "")
            for name in mask.found(path)
        ]
        for number, text in sorted(added.get(path, {}).items()):
            found += [
                Secret(shown, number, f"the value of ${name}, {PASSED}", "")
                for name in mask.found(text)
            ]
    return found


def scan_line(text: str) -> tuple[str, str] | None:
    """(kind, what matched) for the first secret on a line, or None."""
    for kind, pattern in KEY_FORMATS:
        m = pattern.search(text)
        if m:
            return kind, m.group(0)
    for kind, pattern in PROVIDER_KEYS:
        for m in pattern.finditer(text):
            if _random_run(m.group(1)):
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


def _random_run(value: str) -> bool:
    """Some run of 8 or more letters and digits holds both, or one of 12 or more letters
    is a third or more of each case (words joined by dashes, or camelCase, are neither)."""
    for run in re.findall(r"[A-Za-z0-9]{8,}", value):
        upper, lower = sum(c.isupper() for c in run), sum(c.islower() for c in run)
        if _mixed(run) or (len(run) >= 12 and min(upper, lower) >= len(run) / 3):
            return True
    return False


def _mixed(value: str) -> bool:
    """Random-looking: digits and letters (a long word or identifier is not a key)."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _preview(value: str) -> str:
    return value[:6] + "…" if len(value) > 6 else value
