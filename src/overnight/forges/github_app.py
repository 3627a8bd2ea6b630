"""Authenticating as a GitHub App: an installation token, minted per use.

The app's private key (PEM) is read from the variable ``private_key_env``
names, never from the configuration; a JSON Web Token signed with it (RS256,
valid ten minutes, issued by the app's id) buys an installation token from
``POST /app/installations/ID/access_tokens``, which then works like a personal
token (API and git) for about an hour: every forge built asks for a fresh one.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from overnight.errors import ForgeError
from overnight.forges.http import Api


def installation_token(settings: Any, *, transport: httpx.BaseTransport | None = None) -> str:
    """A token for ``settings.installation_id`` of app ``settings.app_id``."""
    key = os.environ.get(settings.private_key_env, "")
    if not key.strip():
        raise ForgeError(
            f"no GitHub App key: set ${settings.private_key_env} to the app's private key (PEM)"
        )
    try:
        import jwt  # PyJWT, with cryptography for RS256
    except ImportError as exc:
        raise ForgeError(
            "GitHub App authentication needs PyJWT with cryptography: "
            "pip install 'overnight[github-app]'"
        ) from exc
    now = int(time.time())
    try:
        signed = jwt.encode(
            {"iat": now - 60, "exp": now + 540, "iss": str(settings.app_id)}, key, "RS256"
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ForgeError(
            f"${settings.private_key_env} is not a usable RSA private key (PEM): {type(exc).__name__}"
        ) from exc
    headers = {"Authorization": f"Bearer {signed}", "Accept": "application/vnd.github+json"}
    api = Api(
        "GitHub", settings.api_url, headers, token_hint="the app's id and key", transport=transport
    )
    try:
        answer = api.call("POST", f"/app/installations/{settings.installation_id}/access_tokens")
    finally:
        api.close()
    return str(answer["token"])
