"""The kinds of notification channel, one registry (``NOTIFIERS``), and sending
one notice on one channel: the seam to the network.

A kind is a ``BaseNotifier`` subclass: its ``name`` (the ``kind`` in a
``[[notify.channel]]`` table), ``check`` (what its table must hold; a
``ConfigError`` in one line) and ``send``; adding one is the class and one line
in ``NOTIFIERS``.

``send`` raises ``NotifyError`` with one line naming the channel (by its label,
never its URL, which may hold a secret) for anything the endpoint or the
network did wrong; the outbox retries it. Secrets are read from the variables
the channel names, in this process's environment, when the notice is sent.

The webhook's body is the notice's payload with ``delivery`` (the same on every
attempt: a receiver drops one it has seen) and ``sent_at`` (a receiver drops an
old one); both are signed with the body and repeated in headers:

    X-Overnight-Signature-256: sha256=<hex HMAC-SHA256 of the body, with the secret>
    X-Overnight-Delivery:      <delivery>
    X-Overnight-Timestamp:     <sent_at, seconds since the epoch>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx

from overnight.errors import ConfigError, NotifyError, one_line
from overnight.notify.channel import Channel
from overnight.notify.notices import mrkdwn, plain, subject
from overnight.registry import Argument, Registry

SIGNATURE = "X-Overnight-Signature-256"
DELIVERY = "X-Overnight-Delivery"
TIMESTAMP = "X-Overnight-Timestamp"


class BaseNotifier:
    """A kind of channel, for ``NOTIFIERS``."""

    name: str
    argument: Argument | None = None

    @staticmethod
    def check(channel: Channel, data: Mapping[str, Any], where: str) -> None:
        """Refuse a table this kind cannot send with (``data``: the table as written)."""

    @staticmethod
    def send(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
        raise NotImplementedError


class WebhookNotifier(BaseNotifier):
    """The notice as signed JSON (see above)."""

    name = "webhook"

    @staticmethod
    def check(channel: Channel, data: Mapping[str, Any], where: str) -> None:
        if not (channel.url or channel.url_env):
            raise ConfigError(f"{where}: a webhook needs 'url' (or 'url_env')")
        if not channel.secret_env:
            raise ConfigError(
                f"{where}: a webhook is signed: name the variable holding its secret in 'secret_env'"
            )

    @staticmethod
    def send(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
        _webhook(channel, payload, delivery, moment)


class SlackNotifier(BaseNotifier):
    """A Slack-compatible incoming webhook: ``{"text": ...}`` in mrkdwn."""

    name = "slack"

    @staticmethod
    def check(channel: Channel, data: Mapping[str, Any], where: str) -> None:
        if "url" in data:
            raise ConfigError(
                f"{where}: a Slack webhook URL is a secret; name its variable in 'url_env'"
            )
        if not channel.url_env:
            raise ConfigError(f"{where}: a Slack channel needs 'url_env'")

    @staticmethod
    def send(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
        body = json.dumps({"text": mrkdwn(payload)}).encode()
        _post(channel, _env(channel, channel.url_env), body, {})


class EmailNotifier(BaseNotifier):
    """Email over SMTP, STARTTLS and login optional."""

    name = "email"

    @staticmethod
    def check(channel: Channel, data: Mapping[str, Any], where: str) -> None:
        if not channel.to:
            raise ConfigError(f"{where}: an email channel needs 'to' (a list of addresses)")
        if bool(channel.username_env) != bool(channel.password_env):
            raise ConfigError(f"{where}: give both 'username_env' and 'password_env', or neither")

    @staticmethod
    def send(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
        _email(channel, payload, delivery)


NOTIFIERS: Registry[BaseNotifier] = Registry(
    "notification channel", (WebhookNotifier, SlackNotifier, EmailNotifier)
)


def send(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
    """Deliver ``payload`` on ``channel``, or raise ``NotifyError``."""
    notifier, _ = NOTIFIERS.get(channel.kind)
    try:
        notifier.send(channel, payload, delivery, moment)
    except NotifyError:
        raise
    except (httpx.HTTPError, smtplib.SMTPException, OSError) as exc:
        raise NotifyError(_hide(channel, f"{channel.label}: {type(exc).__name__}: {exc}")) from exc


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Does ``signature`` (the header's value) sign ``body`` with ``secret``? For receivers."""
    return hmac.compare_digest(sign(secret, body), signature)


def _webhook(channel: Channel, payload: dict[str, Any], delivery: str, moment: datetime) -> None:
    url = channel.url or _env(channel, channel.url_env)
    stamp = int(moment.replace(tzinfo=UTC).timestamp())
    sent_at = moment.replace(microsecond=0).isoformat() + "Z"
    body = json.dumps({**payload, "delivery": delivery, "sent_at": sent_at}, sort_keys=True)
    secret = _env(channel, channel.secret_env)
    headers = {SIGNATURE: sign(secret, body.encode()), DELIVERY: delivery, TIMESTAMP: str(stamp)}
    _post(channel, url, body.encode(), headers)


def _post(channel: Channel, url: str, body: bytes, headers: dict[str, str]) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": "overnight-notify", **headers}
    response = httpx.post(url, content=body, headers=headers, timeout=channel.timeout)
    if response.status_code >= 300:
        raise NotifyError(
            _hide(channel, f"{channel.label}: HTTP {response.status_code} {response.text[:120]}")
        )


def _email(channel: Channel, payload: dict[str, Any], delivery: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject(payload)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Message-ID"] = f"<{delivery}@overnight>"  # the same on every attempt
    message.set_content(plain(payload))
    with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
        if channel.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if channel.username_env:
            smtp.login(_env(channel, channel.username_env), _env(channel, channel.password_env))
        smtp.send_message(message)


def _env(channel: Channel, name: str | None) -> str:
    value = os.environ.get(name or "")
    if not value:
        raise NotifyError(f"{channel.label}: ${name} is not set in the dispatcher's environment")
    return value


def _hide(channel: Channel, message: str) -> str:
    """One line, without the values of the channel's secret variables."""
    for name in (channel.url_env, channel.secret_env, channel.password_env):
        value = os.environ.get(name or "")
        if value:
            message = message.replace(value, f"[${name}]")
    return one_line(message)[:300]
