"""The built-in agent's prompts: Jinja2 templates from the prompt library.

Rendering is strict (an undefined variable is an error, not an empty string)
and sandboxed (a template reads the values it is given, never Python's
internals: a repository's templates are rendered on the worker). The
templates come from ``agents/library.py`` (the repository's, the home's, the
built-in set's); every turn records the set's label (``v1@<digest>``,
``v1+repo@<digest>``), every run its templates' hashes. Change a built-in
prompt: copy the directory to a new version.
"""

from __future__ import annotations

from typing import Any

from jinja2 import FunctionLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from overnight.agents.library import DEFAULT_VERSION, PROMPTS, PromptLibrary
from overnight.agents.standards import Convention, conventions
from overnight.errors import ConfigError

__all__ = ["DEFAULT_VERSION", "PROMPTS", "Convention", "Prompts", "conventions"]


class Prompts:
    def __init__(
        self,
        version: str = DEFAULT_VERSION,
        root: Any = PROMPTS,
        library: PromptLibrary | None = None,
    ) -> None:
        self.library = library or PromptLibrary(version, root=root)
        self.version = self.library.version
        self.env = SandboxedEnvironment(
            loader=FunctionLoader(self.library.text),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # prompts are plain text, not HTML
        )

    @property
    def label(self) -> str:
        """``v1@<12 hex>``: the version and a digest of every template in it."""
        return self.library.label

    def render(self, name: str, **values: Any) -> str:
        try:
            template = self.env.get_template(f"{name}.j2")
        except TemplateNotFound as exc:
            raise ConfigError(f"prompt set {self.version} has no {name}.j2") from exc
        try:
            return template.render(**values).strip()
        except ConfigError:
            raise
        except Exception as exc:  # a team's template that does not render: say which
            where = self.library.get(name)
            raise ConfigError(
                f"prompt {name} ({where.source}: {where.path}) does not render: {exc}"
            ) from exc
