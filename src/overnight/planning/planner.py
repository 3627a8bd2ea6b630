"""``overnight plan``: from a feature description to a folder of proven specs.

    read the base ──► ask the model (reads, retries) ──► check the graph
        ──► prove each test patch at the base ──► write specs + plan.json, lint

Nothing is queued here: ``plan submit`` does that, only for a plan whose every
node is proven and lints.
"""

from __future__ import annotations

import json
from pathlib import Path

from overnight.agents.library import library_for
from overnight.agents.settings import agent_config
from overnight.errors import UsageError
from overnight.llm import Model, get_model
from overnight.planning.context import Base, ReadLimits
from overnight.planning.dialogue import Conversation, converse
from overnight.planning.graph import topological
from overnight.planning.planfile import UNTIL, Plan, lint_errors, write_node
from overnight.planning.proof import Prover
from overnight.spec import parse_spec

TRANSCRIPT = "transcript.json"
FEATURE_CHARS = 40_000


def model_for(base: Base, name: str | None) -> Model:
    """``name``, else the project's model, else the embedded one: as the built-in agent."""
    settings = agent_config(base.config, name)
    return get_model(settings.model, settings.model_config)


def make_plan(
    feature: Path,
    out: Path,
    *,
    repo: str | None = None,
    model: str | None = None,
    until: str = "ready",
    retries: int = 1,
    limits: ReadLimits | None = None,
    cwd: Path | None = None,
) -> Plan:
    """Plan ``feature`` for ``repo``'s base; write the plan to ``out`` (a new folder)."""
    if until not in UNTIL:
        raise UsageError(f"--until must be 'ready' or 'merged', not '{until}'")
    try:
        text = feature.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {feature} ({exc}): give a UTF-8 Markdown file") from exc
    if not text.strip() or len(text) > FEATURE_CHARS:
        raise UsageError(
            f"{feature} must say what the feature is, in at most {FEATURE_CHARS:,} characters"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder: pass another --out")
    base = Base.resolve(repo, cwd or Path.cwd())
    talk = converse(
        model_for(base, model),
        library_for(base.cache, base.sha),
        "plan",
        {"feature": text.strip(), "tree": base.tree(), "standards": base.standards()},
        base,
        retries=retries,
        limits=limits,
    )
    return write_plan(talk, base, out, until, str(feature))


def write_plan(talk: Conversation, base: Base, out: Path, until: str, feature: str) -> Plan:
    """Prove every node, then write its spec and the plan file."""
    out.mkdir(parents=True, exist_ok=True)
    (out / TRANSCRIPT).write_text(json.dumps(talk.messages, indent=2) + "\n")
    by_id = {n.id: n for n in talk.nodes}
    order = topological({n.id: n.depends_on for n in talk.nodes})
    prover = Prover(base)
    plan = Plan(
        repo=base.repo,
        base_ref=base.ref,
        base_sha=base.sha,
        until=until,
        model=talk.model,
        prompts={talk.prompt["name"]: talk.prompt},
        cost_usd=talk.cost,
        tokens=talk.tokens,
        feature=feature,
    )
    for number, node_id in enumerate(order, 1):
        node = by_id[node_id]
        proof = prover.prove(node.test_patch, node.tests)
        plan.nodes.append(write_node(out, number, node, base, proof))
    plan.save(out)
    return plan


def prove_again(folder: Path) -> Plan:
    """Prove every node of the plan in ``folder`` again, from its spec files as they are
    now (after a human fixed a test), and lint them again."""
    plan = Plan.load(folder)
    if plan.submitted_at:
        raise UsageError(f"{folder} was submitted already: its specs are tasks now")
    base = Base.resolve(plan.repo, folder)
    prover = Prover(base)
    for node in plan.nodes:
        node.lint = lint_errors(folder, node)
        if node.lint:
            node.proof = {"status": "unproven", "evidence": "the spec does not lint"}
            continue
        spec, _ = parse_spec((folder / node.file).read_bytes(), folder)
        assert spec is not None
        patch = "".join(p.text for p in spec.test_patches)
        proof = prover.prove(patch, spec.acceptance_tests)
        node.proof = proof.record()
    plan.base_ref, plan.base_sha = base.ref, base.sha
    plan.save(folder)
    return plan
