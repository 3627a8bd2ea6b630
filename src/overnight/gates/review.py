"""The ``review`` gate: an LLM reviewer reads the task and the change.

Any configured model (``[gates.review] model``, which may differ from the
coding model) answers in one fixed JSON structure: a verdict, whether the
change does what was asked, what it misses, and risky spots. The comments go
into the pull request body, and into the agent's feedback when the verdict is
``fail``. Evidence that the review covers the change: a model that answered
(unreachable is an ``error``), an answer in that structure (anything else is
an ``error``), and a diff shown whole: an approval of a diff cut to
``max_diff_chars`` is an ``error``, a rejection still fails.

The review runs after every other gate and only on a change that passed the
blocking ones: it can add a failure, never override one. Advisory unless
``blocking = true``; skipped when no model is configured.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from overnight.config import GateConfig
from overnight.cost import usd
from overnight.errors import OvernightError
from overnight.gates import ERROR, FAIL, PASS, SKIPPED, BaseGate, GateContext, GateOutcome
from overnight.gates.scope import matches
from overnight.markdown import text as as_text
from overnight.workspace import git

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "review"
ANSWER_KEYS = {"verdict", "does_what_was_asked", "summary", "missing", "risks"}


@dataclass
class ReviewConfig(GateConfig):
    blocking: bool = False  # advisory unless configured
    model: str | None = None  # e.g. "anthropic:claude-...", "openai-compatible:URL#name"
    key_env: str | None = None  # the variable holding the key, for openai-compatible
    max_diff_chars: int = 40_000
    HINTS: ClassVar[dict[str, str]] = {"model": '"openai:gpt-4.1-mini"'}


class MalformedReview(ValueError):
    pass


@dataclass
class Review:
    verdict: str
    does_what_was_asked: bool
    summary: str
    missing: list[str]
    risks: list[str]

    def markdown(self, model: str, escape: Callable[[str], str] = as_text) -> str:
        """The reviewer's words as text in Markdown (a file name's underscores stay);
        ``escape=str`` leaves them as they are (the agent's feedback)."""
        lines = [f"**{self.verdict.upper()}** ({escape(model)}): {escape(self.summary)}"]
        if self.missing:
            lines += ["", "Missing:", *[f"- {escape(m)}" for m in self.missing]]
        if self.risks:
            lines += ["", "Risky spots:", *[f"- {escape(r)}" for r in self.risks]]
        return "\n".join(lines)


class ReviewGate(BaseGate):
    name = "review"
    config_type = ReviewConfig
    needs = ("*",)  # after every other gate

    def check(self, ctx: GateContext) -> GateOutcome:
        cfg = ctx.config.gate(self.name, ReviewConfig)
        if not cfg.model:
            return GateOutcome(
                self.name, SKIPPED, "no reviewer model configured ([gates.review] model)"
            )
        outcomes: dict[str, GateOutcome] = ctx.evidence.get("outcomes", {})
        failed = [o.name for o in outcomes.values() if o.blocking and o.verdict in (FAIL, ERROR)]
        command = f"review by {cfg.model}"
        if failed:
            return GateOutcome(
                self.name,
                SKIPPED,
                "not reviewed: blocking gates failed (" + ", ".join(failed) + ")",
                command=command,
            )
        diff, cut = review_diff(ctx, cfg)
        messages = [
            {"role": "system", "content": (TEMPLATES / "system.md").read_text()},
            {"role": "user", "content": request_text(ctx, outcomes, diff)},
        ]
        try:
            from overnight.llm import ModelConfig, Sampling, get_model

            model = get_model(
                cfg.model,
                ModelConfig(
                    key_env=cfg.key_env,
                    timeout=min(ctx.timeout, 300),
                    before_request=ctx.rate_limit,
                ),
            )
            reply = model.query(messages, sampling=Sampling(temperature=0))
        except OvernightError as exc:
            return GateOutcome(
                self.name, ERROR, f"the reviewer could not be asked: {exc}", command=command
            )
        log = (
            f"model: {reply.model}; tokens in {reply.usage.input_tokens}, out "
            f"{reply.usage.output_tokens}; cost {usd(reply.cost)}; {reply.latency:.1f} s\n\n"
            f"-- request\n{messages[1]['content']}\n\n-- answer\n{reply.content}"
        )
        try:
            review = parse_review(reply.content)
        except MalformedReview as exc:
            return GateOutcome(
                self.name,
                ERROR,
                f"the reviewer's answer is malformed: {exc}",
                command=command,
                log=log,
            )
        report = review.markdown(cfg.model)
        if review.verdict == "fail" or not review.does_what_was_asked:
            return GateOutcome(
                self.name,
                FAIL,
                f"the reviewer asks for changes: {review.summary}"[:300],
                command=command,
                log=log,
                report=report,
                feedback="A reviewer read your change and asks for changes:\n"
                + review.markdown(cfg.model, escape=str),
            )
        if cut:
            return GateOutcome(
                self.name,
                ERROR,
                f"the reviewer approved a diff cut to {cfg.max_diff_chars} "
                f"characters ({cut} not shown): its approval does not cover the whole change; "
                "raise [gates.review] max_diff_chars",
                command=command,
                log=log,
                report=report,
            )
        return GateOutcome(
            self.name,
            PASS,
            f"approved: {review.summary}"[:300],
            command=command,
            log=log,
            report=report,
        )


def review_diff(ctx: GateContext, cfg: ReviewConfig) -> tuple[str, int]:
    """The agent's diff (protected files, such as hidden tests, left out), cut to
    ``max_diff_chars``, and how many characters were cut."""
    paths = [p for p in ctx.changed if not matches(p, ctx.protected)]
    diff = (
        git(
            ["diff", "--no-color", "--no-ext-diff", ctx.workspace.base_sha, ctx.sha, "--", *paths],
            ctx.path,
        )
        if paths
        else "(no changes)"
    )
    cut = max(0, len(diff) - cfg.max_diff_chars)
    if cut:
        diff = diff[: cfg.max_diff_chars] + f"\n[... {cut} more characters of diff not shown ...]"
    return diff, cut


def request_text(ctx: GateContext, outcomes: dict[str, GateOutcome], diff: str) -> str:
    """The task as the agent saw it, the gate verdicts, and the agent's diff."""
    gates = (
        "\n".join(f"- {o.name}: {o.verdict} — {o.summary}" for o in outcomes.values()) or "- (none)"
    )
    template = string.Template((TEMPLATES / "request.md").read_text())
    return template.substitute(task=ctx.spec.for_agent(), gates=gates, diff=diff)


def parse_review(text: str) -> Review:
    """The fixed structure, strictly: one JSON object (a ```json fence is allowed)."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    body = fenced.group(1) if fenced else text.strip()
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise MalformedReview(f"not a JSON object ({exc.args[0]})") from exc
    if not isinstance(data, dict):
        raise MalformedReview("not a JSON object")
    missing = sorted(ANSWER_KEYS - set(data))
    if missing:
        raise MalformedReview(f"missing {', '.join(missing)}")
    if data["verdict"] not in ("pass", "fail"):
        raise MalformedReview(f"verdict must be 'pass' or 'fail', not {data['verdict']!r}")
    if not isinstance(data["does_what_was_asked"], bool):
        raise MalformedReview("does_what_was_asked must be true or false")
    if not isinstance(data["summary"], str):
        raise MalformedReview("summary must be a string")
    for key in ("missing", "risks"):
        if not isinstance(data[key], list) or not all(isinstance(i, str) for i in data[key]):
            raise MalformedReview(f"{key} must be a list of strings")
    return Review(
        data["verdict"],
        data["does_what_was_asked"],
        data["summary"].strip(),
        data["missing"],
        data["risks"],
    )
