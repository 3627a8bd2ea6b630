"""Plain-text helpers every layer may use: cutting long output to a size."""

from __future__ import annotations


def trim(text: str, limit: int) -> str:
    """Keep the head and the tail of long text, which is where the signal is."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head - 40
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[-tail:]}"
