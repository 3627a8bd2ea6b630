"""Keys passed on purpose never reach the store: one mask for everything a run writes.

A task's keys are the values, as this process (the worker) sees them, of the
variables its configuration names: ``agent_env`` (passed to a command agent),
``model_key_env`` (else the providers' default key variables) and the review
gate's ``key_env``. ``Mask.text`` replaces each value, and the forms a log
shows it in (percent-encoded in a URL, escaped in JSON), with
``[redacted $NAME]``. Values shorter than ``MIN_SECRET`` are left alone: they
would mask ordinary words.

The store applies the mask to every row it writes (``store/masking.py``);
the security gate refuses a change that contains a key (``gates/security.py``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, quote_plus

from overnight.config import ProjectConfig

MIN_SECRET = 8  # shorter values would mask ordinary words
MODEL_KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")  # read when model_key_env is unset


def key_variables(config: ProjectConfig | Mapping[str, Any]) -> list[str]:
    """The names of the variables whose values are a task's keys."""
    data = config.to_dict() if isinstance(config, ProjectConfig) else config
    names = list(data.get("agent_env") or [])
    names += [data["model_key_env"]] if data.get("model_key_env") else list(MODEL_KEY_ENVS)
    review = (data.get("gates") or {}).get("review") or {}
    if isinstance(review, Mapping) and review.get("key_env"):
        names.append(review["key_env"])
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def token(name: str) -> str:
    """What a key is replaced with."""
    return f"[redacted ${name}]"


def forms(value: str) -> set[str]:
    """A value as a log could show it: as is, percent-encoded, escaped in JSON, and in
    the encodings an agent that wants it out would reach for first (reversed, hex,
    base64 at each alignment, so inside a longer encoded string too)."""
    raw = value.encode()
    found = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        value[::-1],
        raw.hex(),
        raw.hex().upper(),
    }
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        found.add(encode(raw).decode().rstrip("="))
        for shift in range(3):  # the characters that only the value decides
            text = encode(b"\0" * shift + raw + b"\0\0").decode()
            core = text[4 if shift else 0 : (len(raw) + shift) // 3 * 4]
            if len(core) >= 2 * MIN_SECRET:
                found.add(core)
    return {form for form in found if len(form) >= MIN_SECRET}


@dataclass(frozen=True)
class Mask:
    keys: tuple[tuple[str, str], ...] = ()  # (variable, value), values of MIN_SECRET or more

    @classmethod
    def of(
        cls, config: ProjectConfig | Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Mask:
        """The mask of a task's configuration, with values from ``environ``
        (default: this process's environment)."""
        env = os.environ if environ is None else environ
        keys = [(n, env[n]) for n in key_variables(config) if len(env.get(n, "")) >= MIN_SECRET]
        return cls(tuple(keys))

    def __bool__(self) -> bool:
        return bool(self.keys)

    @cached_property
    def replacements(self) -> list[tuple[str, str]]:
        """(form, token), longest form first, so a value inside another is masked last."""
        pairs = {form: token(name) for name, value in reversed(self.keys) for form in forms(value)}
        return sorted(pairs.items(), key=lambda pair: -len(pair[0]))

    def text(self, text: str) -> str:
        for form, mask in self.replacements:
            if form in text:
                text = text.replace(form, mask)
        return text

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def found(self, text: str) -> list[str]:
        """The variables whose value (in any form, or masked) is in ``text``."""
        return [
            name
            for name, value in self.keys
            if token(name) in text or any(f in text for f in forms(value))
        ]
