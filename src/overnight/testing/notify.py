"""A notice receiver on loopback, for testing notification channels: it takes the
signed JSON webhook and the Slack-compatible one, checks signatures and keeps
what arrived. ``status`` makes it answer with an error; ``on_request`` runs
before it answers (a test may kill the dispatcher there).

    with NoticeReceiver(secret="s3cret-value") as receiver:
        ...  # a channel with url = receiver.url
        assert receiver.deliveries() == [...]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from overnight.notify.channels import DELIVERY, SIGNATURE, TIMESTAMP, verify
from overnight.testing.loopback import Loopback


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool | None  # None: no secret to check against

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class NoticeReceiver(Loopback):
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.status = 200
        self.on_request: Callable[[Received], None] | None = None
        self._lock = threading.Lock()
        super().__init__(self._handler(), "notice-receiver")

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    def deliveries(self) -> list[str]:
        """The delivery ids received, in order (a webhook's)."""
        return [r.headers.get(DELIVERY.lower(), "") for r in self.received]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = None
                if receiver.secret is not None:
                    signed = verify(receiver.secret, body, headers.get(SIGNATURE.lower(), ""))
                item = Received(self.path, headers, body, signed)
                if receiver.on_request is not None:
                    receiver.on_request(item)
                with receiver._lock:
                    receiver.received.append(item)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:  # quiet
                pass

        return Handler


__all__ = ["DELIVERY", "NoticeReceiver", "Received", "SIGNATURE", "TIMESTAMP"]
