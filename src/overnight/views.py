"""The read model: tasks as plain data, for the CLI, the dashboard and the HTTP
API. Everything here only reads the store, through ``store/reads.py``. The
store holds a task's keys masked already (``store/masking.py``); a task's
details and logs are masked once more with the keys this process sees, for rows
written before masking existed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from overnight import cost, live
from overnight.holds import waiting
from overnight.masking import Mask
from overnight.pipeline.base import EVENT as REPINNED
from overnight.pipeline.recorder import spent_time
from overnight.spec import Budget
from overnight.store import PullRequest, Session, Task, TaskStatus, now, reads
from overnight.store.checkpoints import notes as checkpoint_notes
from overnight.task_list import task_summary


@dataclass
class Checks:
    """One attempt's gates summed up in one line, as GitHub sums up a pull
    request's checks: the blocking gates that failed, by name, and the advisory
    findings (an advisory gate that did not pass is a warning, never a failure:
    it cannot keep a task from READY)."""

    run: int | None = None
    attempt: int | None = None
    blocking: int = 0
    failed: list[str] = field(default_factory=list)  # blocking: fail, or "name (error)"
    warnings: list[str] = field(default_factory=list)  # advisory: fail or error
    skipped: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """none, fail, warn or pass (the colour of the box)."""
        if not self.blocking and not self.warnings and not self.skipped:
            return "none"
        return "fail" if self.failed else "warn" if self.warnings else "pass"

    @property
    def line(self) -> str:
        """ "2 of 7 blocking gates failed: tests, lint, 1 advisory warning (docs)"."""
        if self.state == "none":
            return "No gates have run yet"
        parts = [self._blocking_part()]
        if self.warnings:
            n = len(self.warnings)
            parts.append(f"{n} advisory warning{_s(n)} ({', '.join(self.warnings)})")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped ({', '.join(self.skipped)})")
        return ", ".join(parts)

    def _blocking_part(self) -> str:
        n = self.blocking
        if self.failed:
            return (
                f"{len(self.failed)} of {n} blocking gate{_s(n)} failed: {', '.join(self.failed)}"
            )
        if n == 0:
            return "No blocking gate ran"
        return f"All {n} blocking gates passed" if n > 1 else "The blocking gate passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "line": self.line,
            "run": self.run,
            "attempt": self.attempt,
            "blocking": self.blocking,
            "failed": self.failed,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def badge(verdict: str, blocking: bool) -> str:
    """How a gate's verdict is shown: an advisory gate that did not pass warns."""
    return "warn" if not blocking and verdict in ("fail", "error") else verdict


def checks(gates: Iterable[Any], run: int | None = None) -> Checks:
    """The summary of one run's last graded attempt (gates with ``name``,
    ``verdict``, ``blocking`` and ``attempt``)."""
    gates = list(gates)
    attempt = max((g.attempt for g in gates), default=None)
    out = Checks(run=run, attempt=attempt)
    for g in (g for g in gates if g.attempt == attempt):
        if g.verdict == "skipped":
            out.skipped.append(g.name)
        elif not g.blocking:
            if g.verdict != "pass":
                out.warnings.append(g.name)
        else:
            out.blocking += 1
            if g.verdict != "pass":
                out.failed.append(g.name if g.verdict == "fail" else f"{g.name} ({g.verdict})")
    return out


def with_holds(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row gains ``holds``: why a queued task is not running and until when
    (``holds.waiting``, in a few queries for all rows); empty for other tasks."""
    found = waiting(session, [r["id"] for r in rows if r["status"] == TaskStatus.QUEUED], now())
    for row in rows:
        row["holds"] = [h.to_dict() for h in found.get(row["id"], [])]
    return rows


def task_detail(session: Session, task: Task, *, diff: bool = True) -> dict[str, Any]:
    data = with_holds(session, [task_summary(task)])[0]
    data["base_ref"], data["agent"] = task.base_ref, task.agent
    data["spec"] = task.spec_text
    data["budget"] = budget_view(task)
    data["runs"] = [run_view(run) for run in task.runs]
    last = task.runs[-1] if task.runs else None
    data["checks"] = checks(last.gates if last else [], last.number if last else None).as_dict()
    repinned = base_notes(session, task.id)
    for run, view in zip(task.runs, data["runs"], strict=True):
        view["base_note"] = repinned.get(run.id)
    data["usage"] = usage([t for run in task.runs for t in run.turns], task.agent)
    pr = pull_request(session, task.id)
    data["pull_request"] = (
        None
        if pr is None
        else {
            "run": next((r.number for r in task.runs if r.id == pr.run_id), None),
            "branch": pr.branch,
            "base_branch": pr.base_branch,
            "head_sha": pr.head_sha,
            "state": pr.state,
            "title": pr.title,
            "body": pr.body,
            "merge_sha": pr.merge_sha,
            "forge": pr.forge,
            "number": pr.number,
            "url": pr.url,
        }
    )
    if diff:
        data["diff"] = latest_artifact(session, task, "diff-attempt-")
    return masked(task, data)


def base_notes(session: Session, task_id: int) -> dict[int | None, str]:
    """Per run that waited for a merge: the note that says its new base."""
    return reads.event_notes(session, task_id, REPINNED)


def pull_request(session: Session, task_id: int) -> PullRequest | None:
    """The task's latest pull request (one per delivered run), if any."""
    return reads.pull_request(session, task_id)


def budget_view(task: Task) -> dict[str, Any]:
    """The task's budget and how its minutes split: the agent's share, the grading reserve."""
    budget = Budget(**task.spec.get("budget", {}))
    return {
        "attempts": budget.attempts,
        "minutes": budget.minutes,
        "usd": budget.usd,
        "tokens": budget.tokens,
        "grading_reserve_seconds": budget.grading_reserve,
        "summary": budget.describe(),
    }


def run_view(run: Any) -> dict[str, Any]:
    last = [g for g in run.gates if g.attempt == run.attempts]
    return {
        "number": run.number,
        "kind": run.kind,
        "status": run.status,
        "attempts": run.attempts,
        "base_sha": run.base_sha,
        "head_sha": run.head_sha,
        "failure_reason": run.failure_reason,
        "feedback": run.feedback,
        "prompts": run.prompts,  # {"label", "templates": {name: {hash, source, path}}}
        "standards": run.standards,  # the coding standards' paths the agent was given
        "started_at": run.started_at.isoformat(timespec="seconds") if run.started_at else None,
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
        "gates": [gate_view(g) for g in last],
        "all_gates": [gate_view(g) for g in run.gates],
        "usage": usage(run.turns, run.task.agent),
        "spent": {part: round(s, 1) for part, s in spent_time(run.steps).items()},
        "transcript": [turn_view(t) for t in run.turns],
        "steps": [
            {
                "name": s.name,
                "attempt": s.attempt,
                "status": s.status,
                "summary": s.summary,
                "duration": (s.finished_at - s.started_at).total_seconds()
                if s.finished_at
                else None,
            }
            for s in run.steps
        ],
    }


def turn_view(t: Any, raw: bool = False) -> dict[str, Any]:
    """One agent turn; ``raw`` adds the request and response bodies as sent and received."""
    view = {
        "attempt": t.attempt,
        "number": t.number,
        "model": t.model,
        "content": t.content,
        "command": t.command,
        "output": t.output,
        "exit_code": t.exit_code,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cost_usd": t.cost,
        "latency": round(t.latency, 3),
        "prompts": t.checkpoint.prompts if t.checkpoint else None,
        "notes": checkpoint_notes(t.checkpoint),
    }
    if raw:
        view["request"], view["response"] = t.request, t.response
    return view


def short_command(command: str, width: int = 70) -> str:
    """A command on one line: its first line (cut to ``width``) and how many lines
    follow, e.g. ``cat > src/slug.py <<'EOF' … (+23 lines)`` for a heredoc."""
    lines = [line.rstrip() for line in command.strip().splitlines()] or [""]
    first = lines[0] if len(lines[0]) <= width else lines[0][: width - 1] + "…"
    more = len(lines) - 1
    return f"{first} … (+{more} line{'' if more == 1 else 's'})" if more else first


def usage(turns: list[Any], agent: str) -> dict[str, Any]:
    """Turns, tokens and cost; ``cost_usd`` is None (unknown) if any turn's price is,
    or if the agent's calls are not recorded (``cost.spent``)."""
    return {
        "turns": len(turns),
        "input_tokens": sum(t.input_tokens for t in turns),
        "output_tokens": sum(t.output_tokens for t in turns),
        "cost_usd": cost.spent(agent, (t.cost for t in turns)),
    }


def gate_view(g: Any) -> dict[str, Any]:
    return {
        "name": g.name,
        "verdict": g.verdict,
        "command": g.command,
        "summary": g.summary,
        "blocking": g.blocking,
        "exit_code": g.exit_code,
        "attempt": g.attempt,
        "duration": round(g.duration, 2),
        "sha": g.sha,
    }


def latest_artifact(session: Session, task: Task, prefix: str) -> str | None:
    return reads.latest_artifact(session, task.id, prefix)


def logs(session: Session, task: Task, gate: str | None = None) -> list[tuple[str, str]]:
    """(title, text) of every step and gate log of every run, in order; for an agent
    step without its log yet (running, or cut off), its live output so far."""
    out: list[tuple[str, str]] = []
    for run in task.runs:
        if gate is None:
            for step in run.steps:
                label = f"run {run.number} · {step.name}" + (
                    f" (attempt {step.attempt})" if step.attempt else ""
                )
                text = reads.artifact_text(session, step.log_id)
                if not step.log_id and step.name == "agent":  # running, or cut off
                    text = live.text_of(session, run.id, step.attempt)
                out.append((f"{label} · {step.status}: {step.summary or ''}", text))
        for g in run.gates:
            if gate is not None and g.name != gate:
                continue
            text = reads.artifact_text(session, g.log_id)
            out.append(
                (
                    f"run {run.number} · gate {g.name} (attempt {g.attempt}) · "
                    f"{g.verdict}: {g.summary}",
                    text,
                )
            )
        for art in reads.extra_logs(session, run.id):
            if gate is None:
                out.append((f"run {run.number} · {art.name}", art.content))
    mask = Mask.of(task.config or {})
    return [(mask.text(title), mask.text(text)) for title, text in out] if mask else out


def masked(task: Task, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the task's keys, as this process sees them, masked."""
    mask = Mask.of(task.config or {})
    return mask.data(data) if mask else data
