"""Webhooks as GitHub signs them: the ``X-Hub-Signature-256`` header, an HMAC-SHA256
of the body with the hook's secret, so a test can post a payload to the endpoint
under test::

    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign("s3cret", body)}
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header GitHub sends with a webhook."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
