"""What a notice says: its JSON payload (documented in docs/notifications.md,
the webhook's body) and the text forms the other channels send.

Every task's part is masked with that task's keys (``overnight.masking``)
before it is stored, as the pull request's body is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from overnight.cost import spent, total, usd
from overnight.masking import Mask
from overnight.store import Session, Task
from overnight.store import notify as notice_rows

VERSION = 1
SECTIONS = ("ready", "failed", "review", "held")  # a digest's parts, in this order
_HEADLINES = {
    "ready": "READY, waiting for review",
    "failed": "FAILED",
    "review": "still waiting for review",
    "held": "held",
}


def task_facts(
    session: Session, task: Task, dashboard_url: str | None, reason: str | None = None
) -> dict[str, Any]:
    """A task as a notice shows it, masked: id, title, status, reason, cost, link."""
    cost = spent(task.agent, notice_rows.task_costs(session, task.id))
    facts = {
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "queue": task.queue,
        "branch": task.branch,
        "reason": reason if reason is not None else task.failure_reason,
        "cost": usd(cost),
        "cost_usd": cost,
        "url": f"{dashboard_url.rstrip('/')}/tasks/{task.id}" if dashboard_url else None,
    }
    masked: dict[str, Any] = Mask.of(task.config or {}).data(facts)
    return masked


def task_payload(kind: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The notice of one task's event (ready, failed, review, held)."""
    return {"version": VERSION, "event": kind, "task": facts, "text": headline(kind, facts)}


def digest_payload(
    since: datetime, until: datetime, sections: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The daily digest: the tasks in each section and what the finished ones cost."""
    finished = {t["id"]: t["cost_usd"] for s in ("ready", "failed") for t in sections[s]}
    counts = ", ".join(f"{len(sections[s])} {_word(s)}" for s in SECTIONS)
    return {
        "version": VERSION,
        "event": "digest",
        "since": since.isoformat(timespec="seconds") + "Z",
        "until": until.isoformat(timespec="seconds") + "Z",
        **{s: sections[s] for s in SECTIONS},
        "cost": total(finished.values()) if finished else usd(0.0),
        "text": f"overnight digest: {counts}",
    }


def headline(kind: str, facts: dict[str, Any]) -> str:
    line = f"Task {facts['id']} {_HEADLINES[kind]}: {facts['title']}"
    return f"{line} ({facts['reason']})" if facts.get("reason") and kind != "ready" else line


def subject(payload: dict[str, Any]) -> str:
    """An email's subject line."""
    return f"overnight: {payload['text']}"[:200]


def plain(payload: dict[str, Any]) -> str:
    """The notice as plain text (an email's body)."""
    if payload["event"] != "digest":
        return "\n".join([payload["text"], "", *_task_lines(payload["task"])]) + "\n"
    lines = [payload["text"], f"from {payload['since']} to {payload['until']}", ""]
    for section in SECTIONS:
        lines.append(f"{_word(section).capitalize()} ({len(payload[section])}):")
        lines += [f"  - {_one(t)}" for t in payload[section]] or ["  none"]
        lines.append("")
    lines.append(f"Cost of the tasks that finished: {payload['cost']}")
    return "\n".join(lines) + "\n"


def mrkdwn(payload: dict[str, Any]) -> str:
    """The notice in Slack's mrkdwn (``&``, ``<``, ``>`` escaped; links as ``<url|text>``)."""
    if payload["event"] != "digest":
        facts = payload["task"]
        lines = [f"*{_esc(payload['text'])}*"]
        lines.append(f"status {facts['status']} · cost {_esc(facts['cost'])}")
        if facts.get("url"):
            lines.append(f"<{facts['url']}|task {facts['id']} on the dashboard>")
        return "\n".join(lines)
    lines = [f"*{_esc(payload['text'])}*"]
    for section in SECTIONS:
        for t in payload[section]:
            link = f"<{t['url']}|#{t['id']}>" if t.get("url") else f"#{t['id']}"
            lines.append(f"• {_word(section)}: {link} {_esc(t['title'])}")
    lines.append(f"cost of the tasks that finished: {_esc(payload['cost'])}")
    return "\n".join(lines)


def _task_lines(facts: dict[str, Any]) -> list[str]:
    lines = [f"Task:   {facts['id']} {facts['title']}", f"Status: {facts['status']}"]
    if facts.get("reason"):
        lines.append(f"Reason: {facts['reason']}")
    lines += [f"Queue:  {facts['queue']}", f"Branch: {facts['branch']}", f"Cost:   {facts['cost']}"]
    if facts.get("url"):
        lines.append(f"Link:   {facts['url']}")
    return lines


def _one(facts: dict[str, Any]) -> str:
    line = f"{facts['id']} {facts['title']} ({facts['cost']})"
    line += f": {facts['reason']}" if facts.get("reason") and facts["status"] != "ready" else ""
    return f"{line} {facts['url']}" if facts.get("url") else line


def _word(section: str) -> str:
    return {"review": "waiting for review"}.get(section, section)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
