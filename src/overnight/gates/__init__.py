"""Quality gates: checks with a verdict and evidence.

Every gate takes a ``GateContext`` (the candidate commit checked out in the
workspace, and the baseline measured on the base commit) and returns a
``GateOutcome``. A gate that cannot run is ``error``, never ``pass``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from overnight.config import ProjectConfig
from overnight.sandbox import Sandbox
from overnight.spec import Spec
from overnight.workspace import Workspace

PASS, FAIL, ERROR, SKIPPED = "pass", "fail", "error", "skipped"


@dataclass
class GateOutcome:
    name: str
    verdict: str
    summary: str
    command: str | None = None
    exit_code: int | None = None
    duration: float = 0.0
    log: str = ""
    feedback: str = ""  # what the agent should read when this gate fails
    blocking: bool = True


@dataclass
class Baseline:
    """What the base commit looks like to the gates."""

    tests: dict[str, dict] = field(default_factory=dict)  # node id -> outcome record
    acceptance: dict[str, str] = field(default_factory=dict)  # acceptance id -> outcome
    tests_error: str | None = None  # the base's test run gave no per-test results
    lint: list[str] = field(default_factory=list)  # finding keys
    lint_error: str | None = None
    commands: dict[str, int] = field(default_factory=dict)  # acceptance command -> exit code

    def passing(self) -> set[str]:
        return {k for k, v in self.tests.items() if v["outcome"] == "passed"}


@dataclass
class GateContext:
    workspace: Workspace
    spec: Spec
    config: ProjectConfig
    baseline: Baseline
    sandbox: Sandbox
    environ: dict[str, str]
    changed: list[str]  # files the agent changed, relative to the workspace
    protected: list[str]  # globs the agent may not change
    sha: str
    timeout: float
    cancel: threading.Event | None = None

    @property
    def path(self) -> Path:
        return self.workspace.path


class Gate(Protocol):
    name: str

    def check(self, ctx: GateContext) -> GateOutcome: ...


def all_gates() -> list[Gate]:
    """The built-in gates, cheap ones first."""
    from overnight.gates.commands import AcceptanceCommandsGate
    from overnight.gates.lint import LintGate
    from overnight.gates.scope import ScopeGate
    from overnight.gates.tests import TestsGate

    return [ScopeGate(), LintGate(), AcceptanceCommandsGate(), TestsGate()]


def run_gates(ctx: GateContext) -> list[GateOutcome]:
    results = []
    for gate in all_gates():
        setting = ctx.config.gate(gate.name)
        if not setting.enabled:
            results.append(
                GateOutcome(gate.name, SKIPPED, "disabled in the configuration", blocking=False)
            )
            continue
        outcome = gate.check(ctx)
        outcome.blocking = setting.blocking and outcome.verdict != SKIPPED
        results.append(outcome)
    return results


def blocking_failures(results: list[GateOutcome]) -> list[GateOutcome]:
    return [r for r in results if r.blocking and r.verdict in (FAIL, ERROR)]
