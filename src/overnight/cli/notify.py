"""`overnight notify`: the notifications dispatcher, the digest, channels per queue."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime, timedelta
from typing import Any

import click

from overnight.cli import store
from overnight.errors import UsageError
from overnight.notify import queues
from overnight.notify.dispatcher import DispatchConfig, Dispatcher
from overnight.notify.outbox import Policy
from overnight.notify.settings import EVENTS, KINDS
from overnight.store import now


@click.group("notify", invoke_without_command=True)
@click.option("--once", is_flag=True, help="Plan and send what is due now, then exit.")
@click.option(
    "--dashboard-url",
    envvar="OVERNIGHT_DASHBOARD_URL",
    help="The dashboard's base URL: notices link to URL/tasks/ID. [env: OVERNIGHT_DASHBOARD_URL]",
)
@click.option(
    "--digest-hour",
    type=click.IntRange(0, 23),
    default=8,
    show_default=True,
    help="UTC hour of the daily digest.",
)
@click.option("--no-digest", is_flag=True, help="Send no daily digest.")
@click.option(
    "--review-after",
    type=float,
    default=24.0,
    show_default=True,
    help="Hours a READY task waits before a review reminder.",
)
@click.option(
    "--retry-base",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds before the first retry; doubled each time.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1),
    default=6,
    show_default=True,
    help="Attempts before a notice is marked failed.",
)
@click.option(
    "--lease",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds a notice being sent is reserved; after a crash it is sent again then.",
)
@click.option(
    "--poll", type=float, default=2.0, show_default=True, help="Seconds between idle passes."
)
@click.pass_context
def notify_group(
    ctx: click.Context,
    once: bool,
    dashboard_url: str | None,
    digest_hour: int,
    no_digest: bool,
    review_after: float,
    retry_base: float,
    max_attempts: int,
    lease: float,
    poll: float,
) -> None:
    """Send notifications: tasks READY, FAILED, waiting for review or held by a
    budget, and a daily digest, to the channels in each project's [notify] table
    and those set per queue (`overnight notify channel add`).

    \b
    Without a subcommand: the dispatcher, pass after pass until stopped (or,
    with --once, until nothing is due now). Run one beside the workers.
    """
    config = DispatchConfig(
        dashboard_url=dashboard_url,
        digest_hour=None if no_digest else digest_hour,
        review_after=timedelta(hours=review_after),
        policy=Policy(retry_base=retry_base, max_attempts=max_attempts, lease=lease),
        poll=poll,
    )
    ctx.obj = config
    if ctx.invoked_subcommand is not None:
        return
    dispatcher = Dispatcher(store(), config)
    if once:
        tried = dispatcher.drain()
        click.echo(f"{tried} notice(s) tried; see 'overnight notify list'")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher.run(stop)


@notify_group.command("digest")
@click.option(
    "--since",
    metavar="HOURS|ISO",
    default="24",
    show_default=True,
    help="Hours back, or an ISO date and time (UTC).",
)
@click.pass_obj
def digest_cmd(config: DispatchConfig, since: str) -> None:
    """Send one digest now (ready, failed, waiting for review, held, cost) to the
    channels that want it."""
    moment = now()
    start = _since(since, moment)
    states = Dispatcher(store(), config).send_digest(start, f"manual:{moment:%Y%m%dT%H%M%S%f}")
    sent, failed = states.get("sent", 0), states.get("failed", 0)
    later = sum(states.values()) - sent - failed
    retry = f", {later} to retry (overnight notify)" if later else ""
    click.echo(
        f"digest since {start:%Y-%m-%d %H:%M} UTC: {sum(states.values())} channel(s), "
        f"{sent} sent, {failed} failed{retry}"
    )


@notify_group.command("list")
@click.option("--state", type=click.Choice(["pending", "sending", "sent", "failed"]))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(state: str | None, limit: int, as_json: bool) -> None:
    """The latest notices: which channel, sent or not, attempts, last error."""
    rows = queues.notices(store(), state, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        task = f"task {r['task_id']}" if r["task_id"] else "-"
        error = f"  {r['last_error']}" if r["last_error"] else ""
        click.echo(
            f"{r['id']:>5} {r['kind']:<7} {task:<10} {r['channel']:<20} "
            f"{r['state']:<8} x{r['attempts']}{error}"
        )


@notify_group.group("channel")
def channel_group() -> None:
    """Channels set per queue, beside those in each project's overnight.toml."""


@channel_group.command("add")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--queue",
    default="*",
    show_default=True,
    help="The queue whose tasks it hears about (*: every queue).",
)
@click.option("--name", help="Its label in `notify list` (default: kind and a digest).")
@click.option("--events", default=",".join(EVENTS), show_default=True, help="Comma-separated.")
@click.option("--url", help="webhook: the address.")
@click.option("--url-env", help="webhook or slack: the variable holding the address.")
@click.option("--secret-env", help="webhook: the variable holding the signing secret.")
@click.option("--host", help="email: the SMTP server.")
@click.option("--port", type=int, help="email: its port.")
@click.option("--starttls", is_flag=True, default=None, help="email: STARTTLS before login.")
@click.option("--username-env", help="email: the variable holding the SMTP user.")
@click.option("--password-env", help="email: the variable holding the SMTP password.")
@click.option("--from", "sender", help="email: the sender address.")
@click.option("--to", multiple=True, help="email: a recipient (repeatable).")
def channel_add(kind: str, queue: str, events: str, to: tuple[str, ...], **options: Any) -> None:
    """Add a channel for a queue's tasks. Secrets are given by variable name, read
    by the dispatcher when it sends."""
    settings = {k: v for k, v in options.items() if v is not None}
    if "sender" in settings:
        settings["from"] = settings.pop("sender")
    settings |= {"kind": kind, "events": [e for e in events.split(",") if e]}
    if to:
        settings["to"] = list(to)
    row = queues.add_channel(store(), queue, settings)
    click.echo(f"channel {row['id']} ({row['label']}) added for queue {queue}")


@channel_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def channel_list(as_json: bool) -> None:
    """The channels set per queue."""
    rows = queues.channels(store())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>4} queue {r['queue']:<12} {r['label']:<20} {','.join(r['events'])}")


@channel_group.command("remove")
@click.argument("channel_id", type=int)
def channel_remove(channel_id: int) -> None:
    """Remove a channel set per queue."""
    queues.remove_channel(store(), channel_id)
    click.echo(f"channel {channel_id} removed")


def _since(text: str, moment: datetime) -> datetime:
    try:
        return moment - timedelta(hours=float(text))
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise UsageError(
            f"--since {text!r}: give hours (24) or an ISO time (2026-01-31T08:00)"
        ) from None


def register(main: click.Group) -> None:
    main.add_command(notify_group)
