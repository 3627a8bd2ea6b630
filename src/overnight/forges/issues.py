"""An issue's text read as a spec, so a labelled issue can become a task.

Two shapes are accepted (docs/forges.md shows both):

- **front matter**: the body is a spec as a file would hold it (YAML front
  matter, then the description); the issue's title is used when the front
  matter has none;
- **the issue form** (``.github/ISSUE_TEMPLATE/overnight.yml``, whose answers
  GitHub renders as ``### Heading`` sections): *What should change*,
  *Acceptance tests* (node ids, one per line), *Test patch* and *Allowed paths*.

In both, every fenced ```` ```diff ```` block is a test patch: it is taken out of
the description and added to the acceptance list as a file of its own (the
caller writes ``patches`` next to the spec before linting it). The text is the
issue author's: it is linted like any spec before anything is queued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from overnight.spec.frontmatter import split_front_matter

_DIFF = re.compile(r"^[ \t]*```+[ \t]*(?:diff|patch)\b[^\n]*\n(.*?)^[ \t]*```+[ \t]*$", re.S | re.M)
_SECTION = re.compile(r"^###[ \t]+(.+?)[ \t]*$", re.M)
_NO_RESPONSE = "_No response_"
FORM = {  # a heading's first word(s) -> the spec field it fills
    "what should change": "description",
    "description": "description",
    "acceptance tests": "tests",
    "test patch": "test_patch",
    "allowed paths": "allow",
}


# what runs, and where, is the project's to say, never an issue author's
PROJECT_FIELDS = ("repo", "agent", "setup", "test_cmd")


@dataclass
class IssueSpec:
    text: str
    patches: dict[str, str] = field(default_factory=dict)  # file name -> unified diff
    refused: str = ""  # why the issue cannot be a spec, whatever the linter says


class _Patches:
    """The test patches taken out of an issue, named after it."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.files: dict[str, str] = {}

    def add(self, diff: str) -> str:
        """Keep ``diff`` as a patch file; what stays in its place (nothing)."""
        self.files[f"issue-{self.number}-{len(self.files) + 1}.patch"] = diff
        return ""

    def take_all(self, text: str) -> str:
        """``text`` without its fenced diffs, each added as a patch."""
        return _DIFF.sub(lambda match: self.add(match.group(1)), text)


def spec_from_issue(
    title: str, body: str, *, number: int, url: str = "", repo: str | None = None
) -> IssueSpec:
    """The issue as a spec for ``repo`` (None: the linter's default, the current
    directory's repository)."""
    body = body.replace("\r\n", "\n")
    patches = _Patches(number)
    front, rest, _ = (
        split_front_matter(body) if body.lstrip().startswith("---") else (None, None, 0)
    )
    if front is not None:
        try:
            data = yaml.safe_load(front) or {}
        except yaml.YAMLError:
            data = None
        if not isinstance(data, dict):
            return IssueSpec(body)  # the linter says what is wrong with it
        description = patches.take_all(rest or "")
    else:
        data, description = _form(body, patches)
    data.setdefault("title", title)
    chosen = [name for name in PROJECT_FIELDS if name in data]
    if chosen:
        return IssueSpec(
            body,
            refused=f"an issue may not set {', '.join(chosen)}: what runs, and where, is "
            "the project's (overnight.toml and the intake's repository)",
        )
    if repo is not None:
        data["repo"] = repo
    if patches.files:
        acceptance = data.setdefault("acceptance", [])
        if isinstance(acceptance, list):
            acceptance += [{"test_patch": name} for name in patches.files]
    source = f"\n\n(from issue #{number}{f': {url}' if url else ''})\n"
    front_text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return IssueSpec(f"---\n{front_text}---\n{description.strip()}{source}", patches.files)


def _form(body: str, patches: _Patches) -> tuple[dict, str]:
    """The answers of the issue form; a body without its headings is all description."""
    sections = _sections(body)
    if not any(key in FORM for key in sections):
        return {}, patches.take_all(body)
    data: dict = {}
    description = ""
    for heading, text in sections.items():
        kind = FORM.get(heading)
        if kind == "description":
            description = patches.take_all(text)
        elif kind == "tests" and (ids := _lines(text)):
            data.setdefault("acceptance", []).append({"tests": ids})
        elif kind == "test_patch" and text.strip():
            if _DIFF.search(text):
                patches.take_all(text)
            else:  # the form's field renders as a diff block itself; a bare diff is fine too
                patches.add(text.strip("\n") + "\n")
        elif kind == "allow" and (paths := _lines(text)):
            data["scope"] = {"allow": paths}
    return data, description


def _sections(body: str) -> dict[str, str]:
    parts = _SECTION.split(body)
    sections = {}
    for heading, text in zip(parts[1::2], parts[2::2], strict=True):
        text = text.strip("\n")
        sections[heading.strip().lower()] = "" if text.strip() == _NO_RESPONSE else text
    return sections


def _lines(text: str) -> list[str]:
    """One item per line, without list bullets or backticks."""
    items = (line.strip().lstrip("-*").strip().strip("`").strip() for line in text.splitlines())
    return [item for item in items if item and not item.startswith("```")]
