"""Delivery: a branch and a pull request for a run, on the forge the project's
``[forge]`` table names (``forges/registry.py``): ``local`` pushes the branch
into the user's repository and keeps the pull request as a row in the store;
``github`` and ``gitlab`` open it there (docs/forges.md). What every forge
offers is in ``forges/base.py``; the pull request's body, the same on every
forge, is made here. The deliver step masks it before any forge sees it."""

from __future__ import annotations

from overnight import markdown
from overnight.cost import usd
from overnight.forges.base import BaseForge, Check, Forge, Published
from overnight.gates import GateOutcome

__all__ = ["BaseForge", "Check", "Forge", "Published", "pr_body"]


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
    dashboard: str = "",
) -> str:
    """The Markdown body: summary, evidence of each gate, and how to inspect it
    (``dashboard``: the dashboard's base URL, linked when given). The
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
        f"(one gate: `overnight logs {task_id} --gate NAME`)"
        + (f"; on the dashboard: {dashboard.rstrip('/')}/tasks/{task_id}." if dashboard else "."),
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
