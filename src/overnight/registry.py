"""One table per kind of part (gates, agents, sandboxes, forges; notifiers when
they come): the built-in classes by their declared ``name``, in order.

A part declares on its class what the table needs: its ``name``, and, when it is
named ``KIND:ARG`` in configuration, its ``argument`` (what the ``ARG`` is and
whether it is required). Whatever else a kind of part declares (a configuration
type, optional capabilities) is on that kind's protocol. Adding a part is its
module plus one line in its kind's registry; the error text that lists the
valid names is made here, from the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from overnight.errors import ConfigError


@dataclass(frozen=True)
class Argument:
    """What follows ``KIND:`` when a part is named: a label for error texts, and
    whether the part needs one."""

    label: str
    required: bool = False


class Part(Protocol):
    """What a registry reads from a part's class."""

    name: str
    argument: Argument | None  # None: named by its name alone, never ``KIND:ARG``


P = TypeVar("P", bound=Part)


class Registry(Generic[P]):
    """The parts of one kind, by name, in the order they were listed."""

    def __init__(self, kind: str, parts: Iterable[type[P]], aliases: Iterable[str] = ()) -> None:
        """``aliases``: names the caller resolves to a part itself (``auto``), listed
        first where the valid names are."""
        self.kind = kind
        self.aliases = tuple(aliases)
        self._parts: dict[str, type[P]] = {}
        for part in parts:
            if part.name in self._parts:
                raise ValueError(f"two {kind}s named '{part.name}'")
            self._parts[part.name] = part

    def __iter__(self) -> Iterator[type[P]]:
        return iter(self._parts.values())

    def __contains__(self, name: object) -> bool:
        return name in self._parts

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._parts)

    def choices(self) -> str:
        """The ways to name a part, for error texts: ``'a', 'b:<x>' or 'c'``."""
        forms = list(self.aliases)
        for part in self:
            arg = part.argument
            if arg is None or not arg.required:
                forms.append(part.name)
            if arg is not None:
                forms.append(f"{part.name}:<{arg.label}>")
        quoted = [f"'{form}'" for form in forms]
        return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]

    def problem(self, name: str) -> str | None:
        """What is wrong with ``KIND[:ARG]``, or None when it names a part here."""
        kind, _, arg = name.partition(":")
        part = self._parts.get(kind)
        if part is not None:
            if part.argument is None and not arg:
                return None
            if part.argument is not None and (arg.strip() or not part.argument.required):
                return None
        return f"unknown {self.kind} '{name}': use {self.choices()}"

    def get(self, name: str) -> tuple[type[P], str]:
        """The part ``KIND[:ARG]`` names and its argument (empty when none)."""
        problem = self.problem(name)
        if problem:
            raise ConfigError(problem)
        kind, _, arg = name.partition(":")
        return self._parts[kind], arg
