"""The gates: the one list of them, cheap ones first, and so the one list of
their names.

Adding a gate is one module (a ``BaseGate`` subclass with its ``name``, its
``config_type`` and, if it has them, ``needs`` and ``measure``) and one line
here (``overnight/registry.py`` is the mechanism every kind of part shares). Custom commands (``[gates.command.NAME]``) are gates too, one per table,
listed before the gates that wait for every other gate (the review).
"""

from __future__ import annotations

from overnight.config import GateConfig, ProjectConfig
from overnight.gates import BaseGate, Gate
from overnight.gates.commands import AcceptanceCommandsGate
from overnight.gates.coverage import CoverageGate
from overnight.gates.custom import CommandConfig, CommandGate
from overnight.gates.docs import DocsGate
from overnight.gates.downstream import DownstreamGate
from overnight.gates.integrity import TestIntegrityGate
from overnight.gates.lint import LintGate
from overnight.gates.review import ReviewGate
from overnight.gates.scope import ScopeGate
from overnight.gates.security import SecurityGate
from overnight.gates.tests import TestsGate
from overnight.gates.typecheck import TypesGate
from overnight.registry import Registry

GATES: Registry[BaseGate] = Registry(
    "gate",
    (
        ScopeGate,
        TestIntegrityGate,
        LintGate,
        TypesGate,
        DocsGate,
        SecurityGate,
        AcceptanceCommandsGate,
        TestsGate,
        CoverageGate,
        DownstreamGate,
        ReviewGate,
    ),
)
GATE_NAMES = GATES.names
CONFIG_TYPES: dict[str, type[GateConfig]] = {gate.name: gate.config_type for gate in GATES}


def gate_list(config: ProjectConfig | None = None) -> list[Gate]:
    """The built-in gates in their order, the configured custom commands before the
    gates that wait for every other one."""
    gates: list[Gate] = [kind() for kind in GATES]
    customs: list[Gate] = []
    if config is not None:
        customs = [
            CommandGate(name, c) for name, c in config.gates.items() if isinstance(c, CommandConfig)
        ]
    first = [g for g in gates if "*" not in g.needs]
    return [*first, *customs, *[g for g in gates if "*" in g.needs]]
