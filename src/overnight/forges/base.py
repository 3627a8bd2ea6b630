"""What a remote forge (GitHub, GitLab) answers, as plain data.

Every remote forge offers the same operations, each a network call that takes
and returns data (no database session): ``deliver`` (push the branch, open or
update its one pull request), ``find``, ``merge`` at an exact sha, ``close``
with a reason, ``comment``, ``state``, ``checks`` on a commit and ``permission``
of a user; ``disconnect`` ends its connection. The caller persists what they
return after the call, outside any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    """A pull (merge) request as the forge has it after a delivery."""

    number: int
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
