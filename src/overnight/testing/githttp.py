"""Git's smart HTTP protocol served by git itself, for the forge fakes.

A request under ``/OWNER/NAME.git/`` is handed to ``git http-backend`` (the CGI
program every git server wraps) with the repository's bare directory as its
root, so a push or fetch over HTTPS to a fake forge is the real protocol, real
packs and real ref updates. Authentication is the caller's: it passes the
login the request authenticated as (``REMOTE_USER``; receive-pack refuses
anonymous pushes).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path

from overnight.workspace.git import GIT, environ


@dataclass
class CgiAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def serve(
    root: Path, path: str, query: str, method: str, headers: dict[str, str], body: bytes, user: str
) -> CgiAnswer:
    """Answer one smart-HTTP request for a repository under ``root``."""
    env = environ(
        {
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
    )
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    proc = subprocess.run(
        [GIT, "http-backend"], input=body, capture_output=True, env=env, timeout=120
    )
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, payload = proc.stdout.partition(b"\n\n")
    status, answer_headers = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            answer_headers.append((name.strip(), value.strip()))
    if proc.returncode != 0 and not proc.stdout:
        return CgiAnswer(500, [], proc.stderr)
    return CgiAnswer(status, answer_headers, payload)


def read_body(headers: dict[str, str], rfile: BufferedIOBase) -> bytes:
    """The request body, whether sent with a length or chunked (git chunks large pushes)."""
    if headers.get("transfer-encoding", "").lower() != "chunked":
        return rfile.read(int(headers.get("content-length") or 0))
    chunks = []
    while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
        chunks.append(rfile.read(size))
        rfile.readline()
    rfile.readline()
    return b"".join(chunks)
