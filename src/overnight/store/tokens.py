"""API token rows, found by the digest of the token (the token itself is never stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from overnight.store.models import ApiToken, now


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def add(session: Session, name: str, digest: str) -> None:
    session.add(ApiToken(name=name, digest=digest))


def valid(session: Session, digest: str) -> bool:
    """True for a token that exists and is not revoked."""
    row = _by_digest(session, digest)
    return row is not None and row.revoked_at is None


def touch(session: Session, digest: str) -> None:
    """Record that the token was used now."""
    row = _by_digest(session, digest)
    if row is not None:
        row.last_used_at = now()


def listing(session: Session) -> list[TokenInfo]:
    return [
        TokenInfo(t.id, t.name, t.created_at, t.last_used_at, t.revoked_at is not None)
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id))
    ]


def revoke(session: Session, token_id: int) -> bool:
    """Revoke the token (a second revoke keeps the first time); False if there is none."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now()
    return True


def _by_digest(session: Session, digest: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.digest == digest)).first()
