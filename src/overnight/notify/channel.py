"""A notification channel as configured: where notices go and which ones."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

EVENTS = ("ready", "failed", "review", "held", "digest")


@dataclass(frozen=True)
class Channel:
    """Where notices go and which ones: a signed JSON webhook, a Slack-compatible
    incoming webhook or email over SMTP."""

    kind: str
    name: str = ""
    events: tuple[str, ...] = EVENTS
    queues: tuple[str, ...] = ()  # a project's channel: only these queues' tasks (empty: all)
    url: str | None = None  # webhook: the address (not a secret: the body is signed)
    url_env: str | None = None  # webhook or slack: the variable holding the address
    secret_env: str | None = None  # webhook: the variable holding the signing secret
    host: str = "localhost"  # email: the SMTP server
    port: int = 25
    starttls: bool = False
    username_env: str | None = None
    password_env: str | None = None
    sender: str = "overnight@localhost"  # "from" in the table
    to: tuple[str, ...] = field(default=())
    timeout: float = 10.0  # seconds for one attempt

    @property
    def label(self) -> str:
        """The channel's name, else its kind and a digest of its settings."""
        if self.name:
            return self.name
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        return f"{self.kind}-{digest[:8]}"

    def wants(self, event: str, queue: str | None = None) -> bool:
        return event in self.events and (queue is None or not self.queues or queue in self.queues)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
