"""The ``scope`` gate: the agent changed only what it was allowed to.

Protected paths (the acceptance tests, overnight's configuration, CI files)
may never change; ``scope.deny`` globs may not; with ``scope.allow``, every
changed file must match one of its globs.

A host-side check that runs no tool: its evidence is the list of changed
paths (git's, between the run's starting tree and the candidate) and the
protected paths it is given. When those do not cover an acceptance test file
(one a test patch touches, or one named by an acceptance test that the base
has), it cannot guard the acceptance tests: an ``error``, never a pass.
"""

from __future__ import annotations

import re
from functools import lru_cache

from overnight.gates import ERROR, FAIL, PASS, BaseGate, GateContext, GateOutcome
from overnight.spec import Spec
from overnight.spec.model import patched_files
from overnight.workspace import Workspace


class ScopeGate(BaseGate):
    name = "scope"

    def check(self, ctx: GateContext) -> GateOutcome:
        scope = ctx.spec.scope
        unguarded = [
            f for f in acceptance_files(ctx.spec, ctx.workspace) if not matches(f, ctx.protected)
        ]
        if unguarded:
            return GateOutcome(
                self.name,
                ERROR,
                f"cannot guard the acceptance tests: {', '.join(unguarded[:5])} "
                "not among the protected paths it was given (the gates were started without "
                "them: a bug in overnight, report it)",
                log="\n".join(ctx.protected),
            )
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


def acceptance_files(spec: Spec, workspace: Workspace) -> list[str]:
    """The files of the acceptance tests the agent may not change: those the test
    patches touch, and those of acceptance tests the base already has."""
    files = {f for p in spec.test_patches for f in patched_files(p.text)}
    for node in spec.acceptance_tests:
        path = node.split("::", 1)[0]
        if workspace.exists_at(workspace.base_sha, path):
            files.add(path)
    return sorted(files)


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
