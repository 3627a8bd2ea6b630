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

from collections.abc import Callable
from typing import Any

from jinja2 import FunctionLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from overnight.agents.library import DEFAULT_VERSION, PROMPTS, PromptLibrary
from overnight.agents.standards import Convention, conventions
from overnight.errors import ConfigError
from overnight.text import trim

NAMED_CHARS = 4000  # of each file the spec names, in the task prompt

__all__ = [
    "DEFAULT_VERSION",
    "PROMPTS",
    "Convention",
    "Prompts",
    "conventions",
    "preview",
    "task_values",
]


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


# what the per-turn templates get in a preview (``overnight prompts render``): examples
EXAMPLES: dict[str, Any] = {
    "exit_code": 0,
    "output": "(the command's output)",
    "timed_out": False,
    "timeout": 180,
    "count": 3,
    "command": "python -m pytest -q",
    "submit_mixed": False,
}


def task_values(
    *,
    spec: str,
    attempt: int,
    feedback: str,
    standards: list[Convention],
    files: list[str],
    read: Callable[[str], str | None],
    named_files: int = 3,
) -> dict[str, Any]:
    """What the task template is rendered with: the spec, the attempt and its feedback,
    the coding standards, the repository's files, and the text of the first few
    files the spec names (``read``: a file's text, None if it cannot be read)."""
    named = []
    for path in [f for f in files if f in spec][:named_files]:
        text = read(path)
        if text is not None:
            named.append(Convention(path, trim(text, NAMED_CHARS)))
    return {
        "spec": spec,
        "attempt": attempt,
        "feedback": feedback.strip(),
        "conventions": standards,
        "files": "\n".join(files[:80]) or "(none)",
        "named": named,
    }


def preview(library: PromptLibrary, name: str, protocol: str, **task: Any) -> str:
    """Template ``name`` as a first attempt's agent gets it: the task's values
    (``task_values``), the per-turn templates' ``EXAMPLES``."""
    values = {**EXAMPLES, "protocol": protocol, **task_values(attempt=1, feedback="", **task)}
    return Prompts(library.version, library=library).render(name, **values)
