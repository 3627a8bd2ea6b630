"""Notification channels as configured: ``[[notify.channel]]`` in overnight.toml
(stored with each task, like the rest of its configuration) and the channels
set per queue with ``overnight notify channel add`` (the ``notify_channels`` table).

A channel names the environment variables that hold its secrets (the webhook's
signing secret, a Slack URL, an SMTP password); their values are read by the
dispatcher when it sends, never stored. ``config.py`` refuses a literal secret
when the configuration is read; this module reads the rest of the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overnight.config import SECRET_NAME
from overnight.errors import ConfigError
from overnight.notify.channel import EVENTS, Channel
from overnight.notify.channels import NOTIFIERS

__all__ = ["EVENTS", "KINDS", "Channel", "parse_channel", "parse_notify"]
KINDS = NOTIFIERS.names
_STRINGS = ("name", "url", "url_env", "secret_env", "host", "username_env", "password_env", "from")
_LISTS = ("events", "queues", "to")


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
    if not isinstance(kind, str) or kind not in NOTIFIERS:
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
    NOTIFIERS.get(channel.kind)[0].check(channel, data, where)
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
