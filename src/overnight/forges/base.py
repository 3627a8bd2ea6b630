"""What every forge offers, and what it answers, as plain data.

A forge is picked by ``kind`` in the project's ``[forge]`` table (``local``,
``github``, ``gitlab``; ``forges/registry.py``) and built for one repository.
Every operation is a call that takes and returns data (no database session,
so a network call never runs inside a transaction): ``deliver`` (push the
branch, open or update its one pull request), ``merge`` at an exact sha,
``close`` with a reason, ``comment``, ``checks`` on a commit; ``disconnect``
ends its connection. The caller persists what they return, after the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from overnight.registry import Argument


@dataclass(frozen=True)
class Published:
    """A pull (merge) request as the forge has it after a delivery."""

    number: int  # 0 for the local forge, whose pull request is a row in the store
    url: str
    pushed: bool  # False when the branch was already at the commit (a resumed delivery)
    opened: bool  # False when an existing pull request was updated


@dataclass(frozen=True)
class Check:
    """A CI check on a commit: a check run, a commit status or a pipeline job."""

    name: str
    state: str  # success | failure | pending | neutral | skipped | cancelled ...
    summary: str = ""
    url: str = ""


@dataclass(frozen=True)
class Issue:
    """An open issue: what intake reads as a spec."""

    number: int
    title: str
    body: str
    author: str
    url: str


class Forge(Protocol):
    name: str

    def deliver(
        self, workspace: Path, *, branch: str, base: str, sha: str, title: str, body: str
    ) -> Published: ...

    def merge(self, number: int, *, sha: str, title: str = "") -> str: ...

    def close(self, number: int, reason: str) -> None: ...

    def comment(self, number: int, text: str) -> None: ...

    def state(self, number: int) -> str:
        """``open``, ``closed`` or ``merged``, as the forge has it now."""
        ...

    def checks(self, sha: str) -> list[Check]: ...

    def permission(self, login: str) -> str:
        """``admin``, ``write``, ``read`` or ``none``: what ``login`` may do there."""
        ...

    def disconnect(self) -> None: ...


class IssueForge(Forge, Protocol):
    """A forge with issues, for intake: the open issues with a label, their
    comments, and a comment on one."""

    def issues(self, label: str) -> list[Issue]: ...

    def issue_comments(self, number: int) -> list[str]: ...

    def comment_issue(self, number: int, text: str) -> None: ...


class BaseForge:
    """What a forge declares for its registry: its ``name``, what may follow
    ``KIND:`` (``argument``; none), and the type of its ``[forge]`` settings
    (``config_type``; None: it takes none). ``build`` makes one for a task's
    repository and base branch."""

    name: str
    argument: Argument | None = None
    config_type: type | None = None

    @classmethod
    def build(cls, settings: Any, *, repo: str, base: str) -> Forge:
        raise NotImplementedError
