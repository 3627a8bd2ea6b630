"""``overnight spec draft``: one spec with acceptance tests, drafted by the model from
a one-line request and proven at the base as a plan's are; written to a file
for the human to sharpen. Nothing is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overnight.agents.library import library_for
from overnight.errors import UsageError
from overnight.planning.context import Base, ReadLimits
from overnight.planning.dialogue import converse
from overnight.planning.planfile import spec_text
from overnight.planning.planner import model_for
from overnight.planning.proof import NOT_APPLIED, Proof, Prover
from overnight.spec import Problem, parse_spec
from overnight.spec.limits import control_character

REQUEST_CHARS = 500


@dataclass
class Draft:
    path: Path
    patch: Path
    proof: Proof
    problems: list[Problem]  # what the spec linter says about the file


def draft_spec(
    request: str,
    out: Path | None = None,
    *,
    repo: str | None = None,
    model: str | None = None,
    retries: int = 1,
    limits: ReadLimits | None = None,
    cwd: Path | None = None,
) -> Draft:
    """Draft, prove and write one spec (``out``: default ``<slug>.md`` in ``cwd``)."""
    request = request.strip()
    if not request or len(request) > REQUEST_CHARS or control_character(request):
        raise UsageError(
            f"the request must be one line of at most {REQUEST_CHARS} characters: "
            "say what the change should do"
        )
    cwd = cwd or Path.cwd()
    base = Base.resolve(repo, cwd)
    talk = converse(
        model_for(base, model),
        library_for(base.cache, base.sha),
        "draft",
        {"request": request, "tree": base.tree(), "standards": base.standards()},
        base,
        retries=retries,
        limits=limits,
        single=True,
    )
    node = talk.nodes[0]
    path = out or cwd / f"{node.id}.md"
    if path.exists():
        raise UsageError(f"{path} exists: pass another --out (the draft is not written)")
    proof = Prover(base).prove(node.test_patch, node.tests)
    path.parent.mkdir(parents=True, exist_ok=True)
    patch = path.with_name(path.name.removesuffix(".md") + ".tests.patch")
    patch.write_text(
        proof.patch if proof.status != NOT_APPLIED and proof.patch else node.test_patch
    )
    path.write_text(
        spec_text(node, base, list(proof.outcomes) or proof.tests or node.tests, patch.name)
    )
    _, problems = parse_spec(path.read_bytes(), path.parent)
    return Draft(path, patch, proof, problems)
