"""One error hierarchy for overnight.

    OvernightError                  every error overnight raises on purpose
    ├── UsageError                  the user asked for something malformed (exit 2)
    │   └── SpecError               a spec has problems; carries them all
    ├── ConfigError                 overnight.toml / [tool.overnight] is wrong
    ├── NotFound                    no such task, run or artifact
    ├── StateError                  the action does not fit the task's state
    ├── GitError                    a git command failed (message is git's, trimmed)
    ├── WorkspaceError              a repository, base or patch cannot be used
    ├── SetupError                  the environment's setup commands failed
    ├── LeaseLost                   a worker lost its lease: it must not write results
    ├── MergeConflict               approve/rebase met conflicts
    ├── NotifyError                 a notice could not be sent (endpoint down or refusing,
    │                               a secret's variable unset): retried, then marked failed
    ├── ForgeError                  GitHub or GitLab refused an operation (token, permission,
    │                               protection, a pull request closed by a human)
    ├── InfrastructureError         not the task's fault (database gone, disk full, model
    │                               server unreachable): the task is retried with backoff
    ├── ModelError                  a model request failed for good (after retries),
    │                               or the embedded model cannot be started
    └── PlanError                   a model's plan or draft cannot be used (malformed
                                    after its retries), or a plan cannot be queued
    ForgeUnavailable                a forge unreachable or failing (ForgeError and
                                    InfrastructureError): retried later

Third-party errors are translated where they enter (git and subprocess in
``workspace``, SQLAlchemy in ``store``, httpx in ``llm.http`` and ``forges.http``) with ``raise ... from exc``.
Every message is one line that says what to do next.
"""

from __future__ import annotations

import unicodedata


def one_line(message: str) -> str:
    """``message`` with its control characters and line breaks written as escapes
    (``\\n``), so a user's value quoted in it cannot break the one line."""
    return "".join(
        repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in message
    )


class OvernightError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(OvernightError):
    exit_code = 2


class SpecError(UsageError):
    """A spec that cannot be queued; ``problems`` holds every finding."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ConfigError(UsageError):
    pass


class NotFound(UsageError):
    pass


class StateError(OvernightError):
    pass


class GitError(OvernightError):
    pass


class WorkspaceError(OvernightError):
    pass


class SetupError(OvernightError):
    """Setup commands failed; ``log`` holds everything they printed."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class LeaseLost(OvernightError):
    pass


class MergeConflict(OvernightError):
    pass


class ModelError(OvernightError):
    """``status`` is the HTTP status of the last answer, if there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PlanError(OvernightError):
    """``overnight plan`` / ``spec draft``: what the model answered cannot be used."""


class InfrastructureError(OvernightError):
    """Not the task's fault: the worker gives the task back and it is retried later."""


class ModelUnavailable(ModelError, InfrastructureError):
    """The model server could not be reached, or kept failing with errors worth a
    retry (429, 5xx, timeouts) after every retry: the task is retried later."""


class ForgeError(OvernightError):
    """A forge (GitHub, GitLab) refused an operation: a wrong or expired token, a
    missing permission, a protected branch, a closed pull request. ``status`` is the
    HTTP status of its answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForgeUnavailable(ForgeError, InfrastructureError):
    """The forge could not be reached or kept failing (5xx, rate limit past the
    longest wait): the delivery is retried later, nothing is lost."""


class NotifyError(OvernightError):
    """A notice could not be sent on a channel: the endpoint refused or was away,
    or a variable the channel names is unset. The outbox retries it with backoff."""
