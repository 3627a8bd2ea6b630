"""`serve`, `up` (a worker and the dashboard together), `token create|list|revoke`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from overnight import tokens
from overnight.cli import store
from overnight.errors import UsageError

HOST_HELP = "Address to listen on; anything but loopback requires a token (overnight token create)."


def _app(host: str, port: int, base_dir: Path | None, poll: float):  # type: ignore[no-untyped-def]
    from overnight.web import WebConfig, create_app
    from overnight.web.security import is_loopback
    from overnight.web.server import check_port

    db = store()
    if not is_loopback(host) and not any(not t.revoked for t in tokens.listing(db)):
        raise UsageError(
            f"{host} is not loopback, so every request needs a token, and there is none: "
            "create one with 'overnight token create' first"
        )
    check_port(host, port)
    config = WebConfig(host=host, port=port, base_dir=base_dir or Path.cwd(), poll=poll)
    return db, create_app(db, config)


def _announce(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"dashboard: http://{shown}:{port}/  (API: /api/docs, /api/openapi.json)", err=True)


def _options(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--poll", default=0.1, show_default=True, help="Seconds between reads of new events."
    )(f)
    f = click.option(
        "--base-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where relative paths in specs submitted from the page resolve [default: here].",
    )(f)
    f = click.option("--port", default=8787, show_default=True, help="Port to listen on.")(f)
    return click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)(f)


@click.command()
@_options
@click.option("--log-level", default="warning", show_default=True, help="uvicorn's log level.")
def serve(host: str, port: int, base_dir: Path | None, poll: float, log_level: str) -> None:
    """Serve the dashboard and the HTTP API (until Ctrl-C)."""
    from overnight.web.server import serve as run

    _, app = _app(host, port, base_dir, poll)
    _announce(host, port)
    _quiet_stop()
    run(app, host, port, log_level)
    click.echo("dashboard: stopped", err=True)


def _quiet_stop() -> None:
    """uvicorn handles Ctrl-C / SIGTERM, then raises the signal again once
    stopped: let that end the command normally (exit 0)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: None)


@click.command()
@_options
@click.option("--slots", default=1, show_default=True, help="Tasks the worker runs at once.")
def up(host: str, port: int, base_dir: Path | None, poll: float, slots: int) -> None:
    """Run a worker and the dashboard together (Ctrl-C: stop serving, let
    running tasks finish; twice: interrupt them). The worker prints one line
    per task event, as `overnight worker` does."""
    from overnight.cli.worker import show_progress
    from overnight.web.server import server
    from overnight.worker import Worker

    db, app = _app(host, port, base_dir, poll)
    show_progress()
    worker = Worker(db, slots=slots)
    thread = threading.Thread(target=worker.run, name="worker", daemon=True)
    thread.start()
    click.echo(f"worker {worker.id}: {slots} slot(s)", err=True)
    _announce(host, port)
    _quiet_stop()
    server(app, host, port).run()  # returns on Ctrl-C / SIGTERM
    worker.stop()

    def interrupt(signum: int, _frame: object) -> None:
        click.echo("interrupting running tasks; they go back to the queue", err=True)
        worker.stop()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    if thread.is_alive():
        click.echo("stopping: running tasks finish first (Ctrl-C again to interrupt)", err=True)
    thread.join()
    click.echo(f"worker {worker.id}: stopped after {worker.done} task(s)", err=True)


@click.group()
def token() -> None:
    """Tokens for the dashboard and API off loopback (stored hashed)."""


@token.command("create")
@click.option("--name", default="default", show_default=True, help="A label, e.g. who uses it.")
def token_create(name: str) -> None:
    """Create a token and print it (shown this once only)."""
    click.echo(tokens.create(store(), name))
    click.echo(
        "keep it: only its hash is stored. Use it as 'Authorization: Bearer …' "
        "or paste it at /login.",
        err=True,
    )


@token.command("list")
def token_list() -> None:
    """Tokens: id, name, created, last used, revoked."""
    for t in tokens.listing(store()):
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        state = "revoked" if t.revoked else "active"
        click.echo(
            f"{t.id}\t{t.name}\t{t.created_at.isoformat(timespec='seconds')}\tused {used}\t{state}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id (see 'overnight token list')."""
    tokens.revoke(store(), token_id)
    click.echo(f"token {token_id}: revoked")


def register(main: click.Group) -> None:
    for command in (serve, up, token):
        main.add_command(command)
