"""The forges, by name. Adding one is its module (a ``BaseForge`` subclass) and
one line here; the deliver step asks for ``local`` until a project can name
another."""

from __future__ import annotations

from overnight.forges import BaseForge, Forge
from overnight.forges.local import LocalForge
from overnight.registry import Registry

FORGES: Registry[BaseForge] = Registry("forge", (LocalForge,))


def get_forge(name: str) -> Forge:
    """The forge ``name`` names; ``ConfigError`` listing the valid names if none."""
    part, _ = FORGES.get(name)
    return part()
