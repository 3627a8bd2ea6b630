"""API tokens for the dashboard and HTTP API when they listen off loopback.

A token is shown once, when created; the store keeps only its SHA-256 (a
token is 32 random bytes, so a fast hash is enough: there is nothing to
brute-force). ``verify`` is what the web layer calls on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from overnight.errors import NotFound
from overnight.store import ApiToken, Store, now

PREFIX = "ovn_"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(store: Store, name: str = "default") -> str:
    """A new token; the plain text is returned once and never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with store.session() as session:
        session.add(ApiToken(name=name, digest=digest(token)))
    return token


def verify(store: Store, token: str) -> bool:
    """True for a token that exists and is not revoked."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return False
    with store.reading() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.digest == digest(token))).first()
        return row is not None and row.revoked_at is None


def touch(store: Store, token: str) -> None:
    """Record that a token was used (done at most once per login, not per request)."""
    with store.session() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.digest == digest(token))).first()
        if row is not None:
            row.last_used_at = now()


def listing(store: Store) -> list[TokenInfo]:
    with store.reading() as session:
        return [
            TokenInfo(t.id, t.name, t.created_at, t.last_used_at, t.revoked_at is not None)
            for t in session.scalars(select(ApiToken).order_by(ApiToken.id))
        ]


def revoke(store: Store, token_id: int) -> None:
    with store.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no token {token_id}: see 'overnight token list'")
        row.revoked_at = row.revoked_at or now()
