"""The notifications outbox: one row per notice to send on one channel, the
channels configured per queue, and the dispatcher's cursors.

A notice's ``key`` is unique (``event:ID:CHANNEL``, ``held:TASK:DAY:CHANNEL``,
``review:RUN:CHANNEL``, ``digest:DAY:CHANNEL``), so a notice is planned once
however often the dispatcher restarts. Its ``state`` goes pending → sending →
sent, or back to pending with a later ``next_at`` (backoff), or failed after
the last attempt; ``next_at`` on a sending row is its lease, after which a
dispatcher that crashed mid-send is taken over (see docs/notifications.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overnight.store.models import Base, now


class NoticeState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Notice(Base):
    """One notice for one channel: what to send (``payload``, masked) and how it went."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_state_next_at", "state", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    delivery: Mapped[str] = mapped_column(String(64))  # the same on every attempt
    kind: Mapped[str] = mapped_column(String(20))  # ready|failed|review|held|digest
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    event_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(100))  # the channel's label
    target: Mapped[dict[str, Any]]  # the channel's settings (variable names, never values)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(10), default=NoticeState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_at: Mapped[datetime] = mapped_column(default=now)
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]


class NotifyChannel(Base):
    """A channel configured for a queue (``*``: every queue) with ``overnight notify channel``."""

    __tablename__ = "notify_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(100), default="*")
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)


class NotifyCursor(Base):
    """Where the dispatcher is: the last event read, the last digest's day."""

    __tablename__ = "notify_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
