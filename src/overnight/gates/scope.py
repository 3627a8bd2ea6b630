"""The ``scope`` gate: the agent changed only what it was allowed to.

Protected paths (the acceptance tests, overnight's configuration, CI files)
may never change; ``scope.deny`` globs may not; with ``scope.allow``, every
changed file must match one of its globs.
"""

from __future__ import annotations

import re
from functools import lru_cache

from overnight.gates import FAIL, PASS, GateContext, GateOutcome


class ScopeGate:
    name = "scope"

    def check(self, ctx: GateContext) -> GateOutcome:
        scope = ctx.spec.scope
        problems = []
        for path in ctx.changed:
            if matches(path, ctx.protected):
                problems.append(
                    f"{path}: protected (acceptance tests, configuration and CI "
                    "files may not be changed)"
                )
            elif matches(path, scope.deny):
                problems.append(f"{path}: matches scope.deny")
            elif scope.allow and not matches(path, scope.allow):
                problems.append(f"{path}: outside scope.allow ({', '.join(scope.allow)})")
        command = (
            "scope: allow="
            + ",".join(scope.allow or ["*"])
            + " deny="
            + ",".join(scope.deny + ["<protected>"])
        )
        if problems:
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(problems)} file(s) out of scope: "
                + ", ".join(p.split(":")[0] for p in problems[:5]),
                command=command,
                log="\n".join(problems),
                feedback="These changes are not allowed; revert them:\n"
                + "\n".join(f"- {p}" for p in problems),
            )
        return GateOutcome(
            self.name,
            PASS,
            f"{len(ctx.changed)} changed file(s), all in scope",
            command=command,
            log="\n".join(ctx.changed),
        )


def matches(path: str, globs: list[str]) -> bool:
    return any(_pattern(g).match(path) for g in globs)


@lru_cache(maxsize=512)
def _pattern(glob: str) -> re.Pattern[str]:
    """gitignore-like: '**' spans directories, '*' does not; 'dir/' is a prefix;
    a pattern without '/' also matches a file's base name anywhere; a pattern
    that names a directory covers everything under it."""
    glob = glob.strip()
    if glob.endswith("/"):
        glob += "**"
    anchored = "/" in glob.rstrip("/")
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{out.lstrip('/')}(?:/.*)?$")
