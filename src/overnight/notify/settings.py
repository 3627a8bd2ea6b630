"""Notification channels as configured: ``[[notify.channel]]`` in overnight.toml
(stored with each task, like the rest of its configuration) and the channels
set per queue with ``overnight notify channel add`` (the ``notify_channels`` table).

A channel names the environment variables that hold its secrets (the webhook's
signing secret, a Slack URL, an SMTP password); their values are read by the
dispatcher when it sends, never stored. ``config.py`` refuses a literal secret
when the configuration is read; this module reads the rest of the table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from overnight.config import SECRET_NAME
from overnight.errors import ConfigError

EVENTS = ("ready", "failed", "review", "held", "digest")
KINDS = ("webhook", "slack", "email")
_STRINGS = ("name", "url", "url_env", "secret_env", "host", "username_env", "password_env", "from")
_LISTS = ("events", "queues", "to")


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


def parse_channel(data: Mapping[str, Any], where: str) -> Channel:
    """One channel's table; ``where`` starts every message (``overnight.toml: notify.channel #1``)."""
    data = {k: v for k, v in data.items() if v is not None}  # as stored: unset is None
    known = {*_STRINGS, *_LISTS, "kind", "port", "starttls", "timeout"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for name in data:
        if SECRET_NAME.search(name) and not name.endswith("_env"):
            raise ConfigError(f"{where}: '{name}' looks like a secret; use '{name}_env'")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    _check_types(data, where)
    wrong = sorted(set(data.get("events", EVENTS)) - set(EVENTS))
    if wrong:
        raise ConfigError(
            f"{where}: unknown event(s) {', '.join(wrong)}; known: {', '.join(EVENTS)}"
        )
    fields: dict[str, Any] = {
        k: tuple(v) if k in _LISTS else v for k, v in data.items() if k != "from"
    }
    channel = Channel(**fields, sender=data.get("from", Channel.sender))
    _check_kind(channel, data, where)
    return channel


def parse_notify(table: Mapping[str, Any], source: str) -> list[Channel]:
    """A project's ``[notify]`` table: its ``[[notify.channel]]`` list."""
    unknown = sorted(set(table) - {"channel"})
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) notify.{', notify.'.join(unknown)}")
    channels = table.get("channel") or []
    if not isinstance(channels, list):
        raise ConfigError(f"{source}: notify.channel must be a list of [[notify.channel]] tables")
    return [parse_channel(c, f"{source}: notify.channel #{n}") for n, c in enumerate(channels, 1)]


def _check_types(data: Mapping[str, Any], where: str) -> None:
    for key, value in data.items():
        if key in _STRINGS and not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be a string")
        if key in _LISTS and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise ConfigError(f"{where}: '{key}' must be a list of strings")
    if "port" in data and (isinstance(data["port"], bool) or not isinstance(data["port"], int)):
        raise ConfigError(f"{where}: 'port' must be a whole number")
    if "starttls" in data and not isinstance(data["starttls"], bool):
        raise ConfigError(f"{where}: 'starttls' must be true or false")
    timeout = data.get("timeout", 1)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: 'timeout' must be a positive number of seconds")


def _check_kind(channel: Channel, data: Mapping[str, Any], where: str) -> None:
    if channel.kind == "webhook":
        if not (channel.url or channel.url_env):
            raise ConfigError(f"{where}: a webhook needs 'url' (or 'url_env')")
        if not channel.secret_env:
            raise ConfigError(
                f"{where}: a webhook is signed: name the variable holding its secret in 'secret_env'"
            )
    elif channel.kind == "slack":
        if "url" in data:
            raise ConfigError(
                f"{where}: a Slack webhook URL is a secret; name its variable in 'url_env'"
            )
        if not channel.url_env:
            raise ConfigError(f"{where}: a Slack channel needs 'url_env'")
    elif channel.kind == "email":
        if not channel.to:
            raise ConfigError(f"{where}: an email channel needs 'to' (a list of addresses)")
        if bool(channel.username_env) != bool(channel.password_env):
            raise ConfigError(f"{where}: give both 'username_env' and 'password_env', or neither")
