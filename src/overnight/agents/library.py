"""The prompt library: the built-in agent's templates by name, where a team's own win.

A template ``NAME`` (system, task, observation, ...) is taken from the first
of four sources that has it:

    eval      an evaluation configuration's ``prompts`` directory (``PromptSet``),
              read when the configuration is and stored with each task it queues:
              an evaluation runs the prompts it names, whatever the repository has
    repo      .overnight/prompts/NAME.j2 in the repository, at the task's base
              commit (read from git's objects, like overnight.toml: the agent
              cannot change the prompts it is given)
    home      $OVERNIGHT_HOME/prompts/NAME.j2: a user's or an organisation's
    built-in  overnight/templates/prompts/<version>/NAME.j2

Each template is named by the hash of its text, so a run records exactly what
it was given (``manifest``): name → hash, source and path. ``label`` pins the
whole set, ``v1@<12 hex>`` with only built-in templates (as before there was
a library), ``v1+repo@<12 hex>`` when the repository's override some
(``v1+eval+repo@...``: an evaluation's and the repository's).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from overnight.config import home
from overnight.errors import ConfigError, UsageError
from overnight.workspace import files_at, git

PROMPTS = Path(__file__).resolve().parent.parent / "templates" / "prompts"
DEFAULT_VERSION = "v1"
REPO_DIR = ".overnight/prompts"
SOURCES = ("eval", "repo", "home", "built-in")  # first wins
TEMPLATE_BYTES = 256_000


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Template:
    name: str  # without .j2
    source: str  # one of SOURCES, or "file" (a path given to ``prompts diff``)
    path: str  # where it was read: in the repository, on disk, or in the package
    text: str

    @property
    def hash(self) -> str:
        return content_hash(self.text)

    @property
    def ref(self) -> str:
        """``source:name``, as ``overnight prompts show`` and ``diff`` take it."""
        return f"{self.source}:{self.name}"

    def record(self) -> dict[str, str]:
        return {"hash": self.hash, "source": self.source, "path": self.path}


@dataclass(frozen=True)
class PromptSet:
    """The prompts an evaluation configuration names, captured whole when it is read
    (the text, not the path: a queued task runs what was submitted): a built-in set
    and the templates (path → text) that override it by name. Stored with each
    task the configuration queues (``Spec.prompts``)."""

    version: str = DEFAULT_VERSION
    templates: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``v1``, or ``v1 + task.j2 (3f2a9c1d0b7e), ...``: what a report shows."""
        over = [f"{Path(p).name} ({content_hash(t)})" for p, t in sorted(self.templates.items())]
        return " + ".join([self.version, ", ".join(over)] if over else [self.version])


class PromptLibrary:
    """The templates of one prompt set: the built-in ``version``, under the home's,
    the repository's (``repo``: path → text, as ``repo_templates`` reads them) and
    an evaluation's (``chosen``: its ``PromptSet.templates``)."""

    def __init__(
        self,
        version: str = DEFAULT_VERSION,
        *,
        chosen: dict[str, str] | None = None,
        repo: dict[str, str] | None = None,
        home_dir: Path | None = None,
        root: Path = PROMPTS,
    ) -> None:
        self.version, self.builtin_dir = version, root / version
        if not (self.builtin_dir / "system.j2").is_file():
            known = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
            raise ConfigError(f"no prompt set '{version}' in {root}: known: {known}")
        self.layers: dict[str, dict[str, Template]] = {
            "eval": _templates("eval", chosen or {}),
            "repo": _templates("repo", repo or {}),
            "home": _templates("home", _read_dir(home_dir)) if home_dir else {},
            "built-in": {
                p.stem: Template(p.stem, "built-in", f"{version}/{p.name}", p.read_text())
                for p in sorted(self.builtin_dir.glob("*.j2"))
            },
        }

    def check(self) -> None:
        """Every template not built in parses (a ``ConfigError`` naming its path and line,
        before anything runs); what a template reads is checked when it renders."""
        env = SandboxedEnvironment()
        for template in self.all():
            if template.source == "built-in":
                continue
            try:
                env.parse(template.text)
            except TemplateSyntaxError as exc:
                raise ConfigError(
                    f"{template.path}:{exc.lineno}: {exc.message}; fix the template"
                ) from exc

    def names(self) -> list[str]:
        return sorted({name for layer in self.layers.values() for name in layer})

    def get(self, name: str, source: str | None = None) -> Template:
        """The template a run uses (or the one ``source`` has)."""
        for where in [source] if source else SOURCES:
            if where not in self.layers:
                raise ConfigError(f"unknown prompt source '{where}': known: {', '.join(SOURCES)}")
            found = self.layers[where].get(name)
            if found is not None:
                return found
        where = f"in {source}" if source else "anywhere"
        raise ConfigError(f"no prompt '{name}' {where}: known: {', '.join(self.names())}")

    def effective(self) -> list[Template]:
        """Every template by name, as a run gets it."""
        return [self.get(name) for name in self.names()]

    def all(self) -> list[Template]:
        """Every template of every source, the overridden ones too."""
        return [t for source in SOURCES for t in self.layers[source].values()]

    def text(self, name: str) -> str | None:
        """For the template loader: a name's text (``task.j2``), None if none has it."""
        stem = name.removesuffix(".j2")
        return self.get(stem).text if stem in self.names() else None

    @cached_property
    def label(self) -> str:
        """The set's version and a digest of every template in it, as runs use them."""
        digest = hashlib.sha256()
        used = self.effective()
        for template in used:
            digest.update(f"{template.name}.j2".encode() + b"\0" + template.text.encode())
        overrides = [s for s in SOURCES[:-1] if any(t.source == s for t in used)]
        return "+".join([self.version, *overrides]) + f"@{digest.hexdigest()[:12]}"

    def manifest(self) -> dict[str, Any]:
        """What a run records: the label and, per template, its hash and source."""
        return {"label": self.label, "templates": {t.name: t.record() for t in self.effective()}}


def repo_templates(repo: Path, sha: str) -> dict[str, str]:
    """The repository's templates at ``sha``: ``.overnight/prompts/*.j2``, by path."""
    found = files_at(repo, sha, [REPO_DIR], limit=TEMPLATE_BYTES)
    return {path: text for path, text in found.items() if _is_template(path, REPO_DIR)}


def home_prompts() -> Path:
    return home() / "prompts"


def library_for(repo: Path, sha: str, version: str = DEFAULT_VERSION) -> PromptLibrary:
    """The library a task's built-in agent uses: its repository's templates at ``sha``,
    this machine's home's, the built-in set's."""
    return PromptLibrary(version, repo=repo_templates(repo, sha), home_dir=home_prompts())


def builtin_sets(root: Path = PROMPTS) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "system.j2").is_file())


def prompt_set(value: str, base_dir: Path) -> PromptSet:
    """What an evaluation configuration's ``prompts`` names: a built-in set (``v1``), or
    a directory (relative to ``base_dir``) of ``NAME.j2`` templates over the default
    set, read now. A ``ConfigError`` for a name that is neither, an unreadable
    directory or template, a template the built-in set does not have, or one that
    does not parse."""
    known = builtin_sets()
    if value in known:
        return PromptSet(value)
    folder = (base_dir / value).expanduser()
    if not folder.exists():
        raise ConfigError(
            f"unknown prompt set '{value}': known: {', '.join(known)}, "
            "or a directory of NAME.j2 templates (relative to this file)"
        )
    try:
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(".j2"))
        templates = {str(p): _read_template(p) for p in paths}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"prompts: {folder} cannot be read ({reason})") from exc
    if not templates:
        raise ConfigError(f"prompts: {folder} has no NAME.j2 template")
    library = PromptLibrary(chosen=templates)
    unknown = sorted(set(library.layers["eval"]) - set(library.layers["built-in"]))
    if unknown:
        raise ConfigError(
            f"prompts: {folder} has template(s) the built-in set does not: "
            f"{', '.join(n + '.j2' for n in unknown)}; known: {', '.join(sorted(library.layers['built-in']))}"
        )
    library.check()
    return PromptSet(DEFAULT_VERSION, templates)


def _read_template(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"prompts: {path} is not a file")
    if path.stat().st_size > TEMPLATE_BYTES:
        raise ConfigError(f"prompts: {path} is over {TEMPLATE_BYTES} bytes")
    return path.read_text(encoding="utf-8")


def _is_template(path: str, folder: str) -> bool:
    """A ``NAME.j2`` directly in ``folder``."""
    rest = path[len(folder) + 1 :] if path.startswith(folder + "/") else ""
    return rest.endswith(".j2") and "/" not in rest and len(rest) > 3


def _read_dir(folder: Path) -> dict[str, str]:
    """``NAME.j2`` files directly in a folder (no symlinks), by path."""
    if not folder.is_dir():
        return {}
    return {
        str(p): p.read_text(errors="replace")
        for p in sorted(folder.glob("*.j2"))
        if p.is_file() and not p.is_symlink() and p.stat().st_size <= TEMPLATE_BYTES
    }


def _templates(source: str, files: dict[str, str]) -> dict[str, Template]:
    return {
        Path(path).stem: Template(Path(path).stem, source, path, text)
        for path, text in sorted(files.items())
    }


def library_at(
    repo: Path | None, ref: str = "HEAD", version: str = DEFAULT_VERSION
) -> PromptLibrary:
    """The library a task on ``repo`` with base ``ref`` would use: the templates
    committed there (not the working tree's, as at submit), the home's, the
    built-in set's. ``repo`` may be a folder inside the repository; None, or not in
    a git repository: no repository layer."""
    here = repo.resolve() if repo is not None else None
    root = next((p for p in ([here, *here.parents] if here else []) if (p / ".git").exists()), None)
    templates = {}
    if root is not None:
        sha = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root, check=False)
        if not sha:
            raise UsageError(f"no commit '{ref}' in {root}")
        templates = repo_templates(root, sha)
    return PromptLibrary(version, repo=templates, home_dir=home_prompts())


def template_ref(library: PromptLibrary, ref: str) -> Template:
    """What ``overnight prompts show`` and ``diff`` name: ``NAME`` (as a run gets
    it), ``SOURCE:NAME`` (``repo:task``, ``home:task``, ``built-in:task``) or the
    path of a template file."""
    source, _, name = ref.rpartition(":")
    if source in SOURCES:
        return library.get(name, source)
    if "/" not in ref and not ref.endswith(".j2") and not source:
        return library.get(ref)
    path = Path(ref).expanduser()
    if path.is_file():
        return Template(path.name.removesuffix(".j2"), "file", str(path), path.read_text())
    raise UsageError(
        f"'{ref}' is neither a template (NAME or SOURCE:NAME, sources {', '.join(SOURCES)}) "
        "nor a file"
    )


def template_diff(a: Template, b: Template) -> str:
    """A unified diff from ``a`` to ``b``, each labelled with its source, path and hash
    (empty: the same text)."""
    return "".join(
        difflib.unified_diff(
            a.text.splitlines(keepends=True),
            b.text.splitlines(keepends=True),
            f"{a.ref} ({a.path}, {a.hash})",
            f"{b.ref} ({b.path}, {b.hash})",
        )
    )
