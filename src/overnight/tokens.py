"""API tokens for the dashboard and HTTP API when they listen off loopback.

A token is shown once, when created; the store keeps only its SHA-256 (a
token is 32 random bytes, so a fast hash is enough: there is nothing to
brute-force). ``verify`` is what the web layer calls on every request.
"""

from __future__ import annotations

import hashlib
import secrets

from overnight.errors import NotFound
from overnight.store import Store
from overnight.store import tokens as rows
from overnight.store.tokens import TokenInfo

PREFIX = "ovn_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(store: Store, name: str = "default") -> str:
    """A new token; the plain text is returned once and never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with store.session() as session:
        rows.add(session, name, digest(token))
    return token


def verify(store: Store, token: str) -> bool:
    """True for a token that exists and is not revoked."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return False
    with store.reading() as session:
        return rows.valid(session, digest(token))


def touch(store: Store, token: str) -> None:
    """Record that a token was used (done at most once per login, not per request)."""
    with store.session() as session:
        rows.touch(session, digest(token))


def listing(store: Store) -> list[TokenInfo]:
    with store.reading() as session:
        return rows.listing(session)


def revoke(store: Store, token_id: int) -> None:
    with store.session() as session:
        if not rows.revoke(session, token_id):
            raise NotFound(f"no token {token_id}: see 'overnight token list'")
