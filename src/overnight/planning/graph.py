"""The plan's graph: which specs wait for which, checked and put in order.

Edges point from a spec to the specs it depends on. A plan is refused when a
spec names an id the plan does not have, or when the edges make a cycle; the
cycle is named as a path (``a -> b -> a``) so the human or the model can cut it.
"""

from __future__ import annotations

from collections.abc import Mapping


def check_graph(deps: Mapping[str, list[str]], error: type[Exception]) -> None:
    """Raise ``error`` naming the first unknown id or cycle in ``deps`` (id -> ids)."""
    for node, needs in deps.items():
        for need in needs:
            if need not in deps:
                raise error(
                    f"spec '{node}' depends on '{need}', which is not in the plan "
                    f"(ids: {', '.join(deps)})"
                )
            if need == node:
                raise error(f"spec '{node}' depends on itself: cycle {node} -> {node}")
    cycle = find_cycle(deps)
    if cycle:
        raise error(f"the plan has a cycle: {' -> '.join(cycle)}; remove one of its edges")


def find_cycle(deps: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle as the path around it (first id repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for need in deps.get(node, []):
            if state.get(need) == 1:
                return [*path[path.index(need) :], need]
            if need in deps and need not in state:
                found = visit(need)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def topological(deps: Mapping[str, list[str]]) -> list[str]:
    """The ids, each after those it depends on, otherwise in the order given."""
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(deps):
        ready = [n for n in deps if n not in placed and all(d in placed for d in deps[n])]
        if not ready:  # a cycle: check_graph refuses it before anyone asks for an order
            raise ValueError("the plan's graph has a cycle")
        done.append(ready[0])
        placed.add(ready[0])
    return done
