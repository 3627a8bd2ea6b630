"""A vulnerability service on loopback that answers like OSV's query API.

The security gate audits new pinned dependencies with pip-audit; pointed at
this server (``[gates.security] audit_service = "osv"`` and ``osv_url =
server.url``) it reports exactly the advisories given, so a test of a
project's configuration needs no network::

    with AdvisoryServer({("requests", "2.19.0"): ["GHSA-x84v-xcm2-53pg"]}) as server:
        ...  # overnight.toml: osv_url = server.url
        assert server.queries == [("requests", "2.19.0")]
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from overnight.testing.loopback import Loopback


class AdvisoryServer(Loopback):
    def __init__(self, advisories: dict[tuple[str, str], list[str]], fixed: str = "") -> None:
        """``advisories``: (package, version) -> advisory ids; ``fixed``: the version
        each advisory says fixes it (none when empty)."""
        self.advisories, self.fixed = advisories, fixed
        self.queries: list[tuple[str, str]] = []
        super().__init__(_handler(self), "advisories")

    @property
    def url(self) -> str:
        return f"{self.base}/v1/query"

    def answer(self, name: str, version: str) -> dict[str, Any]:
        self.queries.append((name, version))
        ids = self.advisories.get((name, version), [])
        events: list[dict[str, str]] = [{"introduced": "0"}]
        if self.fixed:
            events.append({"fixed": self.fixed})
        return (
            {
                "vulns": [
                    {
                        "id": vid,
                        "summary": f"{name} {version} is vulnerable ({vid})",
                        "affected": [
                            {
                                "package": {"name": name, "ecosystem": "PyPI"},
                                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                            }
                        ],
                    }
                    for vid in ids
                ]
            }
            if ids
            else {}
        )


def _handler(server: AdvisoryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            package = body.get("package", {})
            payload = json.dumps(server.answer(package.get("name", ""), body.get("version", "")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

    return Handler
