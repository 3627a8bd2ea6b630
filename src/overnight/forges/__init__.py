"""Delivery: a branch and a pull request for a run. Forges are picked by name
from ``forges/registry.py``; ``local`` pushes the branch into the user's repository and keeps the pull
request as a record in the store, which masks the task's keys in its body like
in every row (``store/masking.py``). A forge that sends the body elsewhere
masks it first: ``Mask.of(task.config).text(body)`` (``overnight.masking``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from overnight import markdown
from overnight.cost import usd
from overnight.gates import GateOutcome
from overnight.registry import Argument
from overnight.store import PullRequest, Session


@dataclass
class Delivery:
    task_id: int
    run_id: int
    repo: str
    branch: str
    base_branch: str
    base_sha: str
    head_sha: str
    title: str
    body: str


class Forge(Protocol):
    name: str

    def deliver(self, session: Session, delivery: Delivery, workspace: Path) -> PullRequest: ...


class BaseForge:
    """What a forge declares for its registry (``forges/registry.py``): its ``name``,
    what may follow ``KIND:`` (``argument``; none yet) and the type of its settings
    (``config_type``; None: it has none). It is built with no arguments."""

    name: str
    argument: Argument | None = None
    config_type: type | None = None

    def deliver(self, session: Session, delivery: Delivery, workspace: Path) -> PullRequest:
        raise NotImplementedError


def pr_body(
    *,
    description: str,
    diffstat: str,
    gates: list[GateOutcome],
    attempts: int,
    run_number: int,
    base_sha: str,
    head_sha: str,
    task_id: int,
    review_feedback: str | None = None,
    tokens: int = 0,
    cost: float | None = None,
) -> str:
    """The Markdown body: summary, evidence of each gate, and how to inspect it. The
    spec's description is Markdown; gate summaries, commands and the reviewer's words
    are text, escaped to show as written (``markdown.py``)."""
    summary = description.strip().split("\n\n")[0] if description.strip() else "(no description)"
    rows = ["| gate | verdict | command | summary |", "| --- | --- | --- | --- |"]
    for g in gates:
        verdict = g.verdict.upper() + ("" if g.blocking else " (advisory)")
        command = markdown.code(_clip(g.command or "-")).replace("|", "\\|")
        rows.append(f"| {g.name} | {verdict} | {command} | {markdown.text(_clip(g.summary))} |")
    parts = [
        "## Summary",
        summary,
        "",
        "## Evidence",
        f"Gates ran on `{head_sha[:12]}`, the exact commit delivered "
        f"(base `{base_sha[:12]}`), after {attempts} attempt(s) in run {run_number}. "
        f"Model calls: {f'{tokens} tokens, ' if tokens else ''}cost {usd(cost)}.",
        "",
        *rows,
        "",
        f"Full logs: `overnight logs {task_id}` "
        f"(one gate: `overnight logs {task_id} --gate NAME`).",
        "",
        *[line for g in gates if g.report for line in (f"### {g.name}", g.report.strip(), "")],
        "## Changes",
        "```",
        diffstat.strip() or "(no changes)",
        "```",
    ]
    if review_feedback:
        parts += ["", "## Review feedback addressed", markdown.text(review_feedback.strip())]
    return "\n".join(parts) + "\n"


def _clip(text: str) -> str:
    """One line of a table cell, at most 200 characters (cut before escaping)."""
    return text.replace("\n", " ")[:200]
