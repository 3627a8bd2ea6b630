"""Channels set per queue (``overnight notify channel``) and the outbox as a list
(``overnight notify list``): the store's side of the notify commands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from overnight.errors import NotFound
from overnight.notify.settings import parse_channel
from overnight.store import Store
from overnight.store.notices import Notice, NotifyChannel


def add_channel(store: Store, queue: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Check ``settings`` as a channel's table and keep it for ``queue`` (``*``: every queue)."""
    channel = parse_channel(settings, f"channel for queue {queue}")
    with store.session() as session:
        row = NotifyChannel(queue=queue, settings=channel.to_dict())
        session.add(row)
        session.flush()
        return {"id": row.id, "queue": queue, "label": channel.label, **channel.to_dict()}


def channels(store: Store) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.scalars(select(NotifyChannel).order_by(NotifyChannel.id))
        return [
            {"id": r.id, "queue": r.queue, "label": parse_channel(r.settings, str(r.id)).label}
            | r.settings
            for r in rows
        ]


def remove_channel(store: Store, channel_id: int) -> None:
    with store.session() as session:
        row = session.get(NotifyChannel, channel_id)
        if row is None:
            raise NotFound(f"no channel {channel_id}: see 'overnight notify channel list'")
        session.delete(row)


def notices(store: Store, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest notices, newest first."""
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if state:
        query = query.where(Notice.state == state)
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
            for n in session.scalars(query)
        ]
