"""Keys never reach the store or the logs: every recorded text passes through here."""

from __future__ import annotations

import json
from typing import Any

MASK = "[redacted]"
MIN_SECRET = 8  # shorter values would mask ordinary words


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            text = text.replace(secret, MASK)
    return text


def redact_data(data: Any, secrets: tuple[str, ...] | list[str]) -> Any:
    """A JSON-able value with every secret masked (through its JSON text)."""
    if not any(s and len(s) >= MIN_SECRET for s in secrets):
        return data
    return json.loads(redact(json.dumps(data), [json.dumps(s)[1:-1] for s in secrets]))
