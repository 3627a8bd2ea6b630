"""Channels set per queue (``overnight notify channel``) and the outbox as a list
(``overnight notify list``): the store's side of the notify commands."""

from __future__ import annotations

from typing import Any

from overnight.errors import NotFound
from overnight.notify.settings import parse_channel
from overnight.store import Store
from overnight.store import notify as notice_rows


def add_channel(store: Store, queue: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Check ``settings`` as a channel's table and keep it for ``queue`` (``*``: every queue)."""
    channel = parse_channel(settings, f"channel for queue {queue}")
    with store.session() as session:
        channel_id = notice_rows.add_channel(session, queue, channel.to_dict())
        return {"id": channel_id, "queue": queue, "label": channel.label, **channel.to_dict()}


def channels(store: Store) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = notice_rows.queue_channels(session)
        return [
            {"id": r.id, "queue": r.queue, "label": parse_channel(r.settings, str(r.id)).label}
            | r.settings
            for r in rows
        ]


def remove_channel(store: Store, channel_id: int) -> None:
    with store.session() as session:
        if not notice_rows.remove_channel(session, channel_id):
            raise NotFound(f"no channel {channel_id}: see 'overnight notify channel list'")


def notices(store: Store, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest notices, newest first."""
    with store.session() as session:
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "task_id": n.task_id,
                "channel": n.channel,
                "state": n.state,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": n.created_at.isoformat(timespec="seconds"),
                "sent_at": n.sent_at.isoformat(timespec="seconds") if n.sent_at else None,
            }
            for n in notice_rows.latest(session, state, limit)
        ]
