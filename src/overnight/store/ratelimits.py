"""Provider rate limits and the per-minute windows that count against them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overnight.store.models import ProviderLimit, RateWindow


def set_limit(session: Session, key: str, rpm: int | None, tpm: int | None) -> None:
    row = session.get(ProviderLimit, key) or ProviderLimit(key=key)
    row.rpm, row.tpm = rpm, tpm
    session.add(row)


def limit_of(session: Session, key: str) -> ProviderLimit | None:
    return session.get(ProviderLimit, key)


def window(session: Session, key: str, number: int, *, lock: bool) -> RateWindow:
    """Minute ``number``'s window for ``key`` (opened empty if new), locked when
    ``lock`` for the caller to count a request in."""
    if session.get(RateWindow, (key, number)) is None:
        try:  # two workers may open the same window at once: one insert wins
            with session.begin_nested():
                session.add(RateWindow(key=key, window=number, requests=0, tokens=0))
        except IntegrityError:
            pass
    query = select(RateWindow).where(RateWindow.key == key, RateWindow.window == number)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one()
