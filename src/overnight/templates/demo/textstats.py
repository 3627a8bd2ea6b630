"""Small statistics about plain text: its words, how many, the most common."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, with punctuation dropped."""
    return _WORD.findall(text.lower())


def word_count(text: str) -> int:
    """How many words ``text`` has."""
    return len(words(text))


def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` most common words of ``text`` with their counts, most common first."""
    return Counter(words(text)).most_common(n)
