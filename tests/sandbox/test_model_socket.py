"""The model socket: a CLI agent inside the sandbox reaches the configured model
server through it, and nothing else (not even that server directly)."""

from __future__ import annotations

import json
import shlex
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from overnight.errors import ConfigError
from overnight.sandbox.bwrap import BwrapSandbox
from overnight.sandbox.proxy import Endpoint, ModelProxy

from .conftest import need_bwrap

# What a CLI agent does: POST a chat request to the base URL it was given.
AGENT = """
import json, os, urllib.request
body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "hi"}]})
req = urllib.request.Request(os.environ["OVERNIGHT_MODEL_URL"] + "/v1/chat/completions",
                             data=body.encode(), headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
"""
DIRECT = """
import errno, socket, sys
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port))
        print(port, "CONNECTED")
    except OSError as exc:
        print(port, errno.errorcode[exc.errno])
"""


class ScriptedModel(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = {"choices": [{"message": {"content": f"echo {request['messages'][0]['content']}"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def model_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_cli_agent_reaches_the_model_through_the_socket_only(model_server, workspace, environ):
    need_bwrap()
    port = model_server.server_address[1]
    sandbox = BwrapSandbox(model_endpoint=f"127.0.0.1:{port}")
    done = sandbox.run(f"python3 -c {shlex.quote(AGENT)}", cwd=workspace, env=environ, timeout=60)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["choices"][0]["message"]["content"] == "echo hi"


def test_nothing_but_the_forwarder_is_reachable_inside(model_server, workspace, environ):
    need_bwrap()
    port = model_server.server_address[1]
    other = socket.create_server(("127.0.0.1", 0))  # another service on the host's loopback
    other_port = other.getsockname()[1]
    with other:
        sandbox = BwrapSandbox(model_endpoint=f"127.0.0.1:{port}")
        probe = f"python3 -c {shlex.quote(DIRECT)} {port} {other_port}"
        done = sandbox.run(
            f"{probe}; ls -l /run/overnight; printf '%s' \"$OVERNIGHT_MODEL_URL\"",
            cwd=workspace,
            env=environ,
            timeout=60,
        )
    lines = done.output.splitlines()
    # the model's port answers only because the forwarder listens there inside
    assert lines[0] == f"{port} CONNECTED"
    assert lines[1] == f"{other_port} ECONNREFUSED"
    assert "model.sock" in done.output
    assert lines[-1] == f"http://127.0.0.1:{port}"


def test_without_a_model_endpoint_the_model_server_is_unreachable(model_server, workspace, environ):
    need_bwrap()
    port = model_server.server_address[1]
    done = BwrapSandbox().run(
        f"python3 -c {shlex.quote(DIRECT)} {port}; ls /run/overnight",
        cwd=workspace,
        env=environ,
        timeout=60,
    )
    assert done.output.splitlines()[0] == f"{port} ECONNREFUSED"
    assert "cannot access '/run/overnight': No such file or directory" in done.output


def test_the_proxy_forwards_a_unix_socket_to_the_endpoint(model_server):
    port = model_server.server_address[1]
    with ModelProxy(Endpoint.parse(f"127.0.0.1:{port}")) as proxy:
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(proxy.path))
        body = b'{"messages": [{"content": "ping"}]}'
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
        client.close()
        socket_dir = proxy.dir
    assert reply.startswith(b"HTTP/1.0 200")
    assert b"echo ping" in reply
    assert not socket_dir.exists()  # removed when the proxy closes


@pytest.mark.parametrize("text", ["localhost", "127.0.0.1:80", "127.0.0.1:http", ":4000"])
def test_a_malformed_endpoint_is_refused_with_an_example(text):
    with pytest.raises(ConfigError, match="HOST:PORT"):
        Endpoint.parse(text)
