"""The built-in agent's prompts: Jinja2 templates in ``templates/prompts/<version>/``.

Rendering is strict (an undefined variable is an error, not an empty string).
A prompt set is named by its directory and pinned by a digest of its files;
every turn records ``version@digest``, so a transcript says exactly which
prompts produced it. Change a prompt: copy the directory to a new version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from overnight.errors import ConfigError
from overnight.text import trim

PROMPTS = Path(__file__).resolve().parent.parent / "templates" / "prompts"
DEFAULT_VERSION = "v1"
CONVENTION_FILES = ("AGENTS.md", "CLAUDE.md", "CONVENTIONS.md", ".github/copilot-instructions.md")
CONVENTION_CHARS = 4000  # of each file


@dataclass
class Convention:
    path: str
    text: str


class Prompts:
    def __init__(self, version: str = DEFAULT_VERSION, root: Path = PROMPTS) -> None:
        self.version, self.dir = version, root / version
        if not (self.dir / "system.j2").is_file():
            known = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
            raise ConfigError(f"no prompt set '{version}' in {root}: known: {known}")
        self.env = Environment(
            loader=FileSystemLoader(self.dir),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # prompts are plain text, not HTML
        )

    @cached_property
    def label(self) -> str:
        """``v1@<12 hex>``: the version and a digest of every template in it."""
        digest = hashlib.sha256()
        for path in sorted(self.dir.glob("*.j2")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return f"{self.version}@{digest.hexdigest()[:12]}"

    def render(self, name: str, **values: Any) -> str:
        try:
            template = self.env.get_template(f"{name}.j2")
        except TemplateNotFound as exc:
            raise ConfigError(f"prompt set {self.version} has no {name}.j2") from exc
        return template.render(**values).strip()


def conventions(workspace: Path) -> list[Convention]:
    """The repository's instructions for agents, in the order of CONVENTION_FILES."""
    found = []
    for name in CONVENTION_FILES:
        path = workspace / name
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace").strip()
            if text:
                found.append(Convention(name, trim(text, CONVENTION_CHARS)))
    return found
