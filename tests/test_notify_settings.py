"""Notification channels as configured: [[notify.channel]] in overnight.toml is
stored with the task, secrets only by variable name, everything else checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import INHERIT

from overnight.errors import ConfigError
from overnight.gates.settings import parse_config
from overnight.intake import submit_text
from overnight.notify.settings import Channel, parse_channel, parse_notify
from overnight.store import Store
from overnight.testing import make_repo

TOML = """test_cmd = "python -m pytest"

[[notify.channel]]
kind = "webhook"
url = "https://hooks.example.com/overnight"
secret_env = "HOOK_SECRET"
events = ["ready", "failed"]

[[notify.channel]]
kind = "slack"
url_env = "SLACK_URL"
queues = ["nightly"]

[[notify.channel]]
kind = "email"
host = "smtp.example.com"
port = 587
starttls = true
username_env = "SMTP_USER"
password_env = "SMTP_PASSWORD"
from = "overnight@example.com"
to = ["team@example.com"]
"""


def test_notify_table_is_read_and_stored_with_the_configuration() -> None:
    config = parse_config({"overnight.toml": TOML})
    assert config.to_dict()["notify"] == config.notify
    webhook, slack, email = parse_notify(config.notify, "overnight.toml")
    assert webhook.wants("ready") and not webhook.wants("digest")
    assert slack.wants("held", "nightly") and not slack.wants("held", "default")
    assert (email.port, email.starttls, email.sender, email.to) == (
        587,
        True,
        "overnight@example.com",
        ("team@example.com",),
    )


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (
            'kind = "webhook"\nurl = "https://x"\nsecret = "hunter2hunter2"',
            "'secret' looks like a secret.*'secret_env'",
        ),
        ('kind = "email"\nto = ["a@b"]\npassword = "pw"', "'password' looks like a secret"),
        (
            'kind = "slack"\nurl = "https://hooks.slack.com/services/T/B/X"',
            "Slack webhook URL is a secret.*url_env",
        ),
    ],
)
def test_a_literal_secret_is_refused_when_the_configuration_is_read(
    channel: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_config({"overnight.toml": f"[[notify.channel]]\n{channel}\n"})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "pager"}, "'kind' must be one of webhook, slack, email"),
        ({"kind": "webhook", "url": "http://x"}, "secret_env"),
        (
            {"kind": "webhook", "url": "http://x", "secret_env": "S", "events": ["done"]},
            "unknown event",
        ),
        ({"kind": "email"}, "needs 'to'"),
        ({"kind": "email", "to": ["a@b"], "username_env": "U"}, "both 'username_env'"),
        ({"kind": "email", "to": ["a@b"], "port": "25"}, "'port' must be a whole number"),
        ({"kind": "slack", "url_env": "S", "colour": "red"}, "unknown setting"),
    ],
)
def test_a_wrong_channel_is_refused_with_one_line(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_channel(data, "overnight.toml: notify.channel #1")


def test_a_stored_channel_reads_back_the_same_with_a_stable_label() -> None:
    channel = parse_channel({"kind": "slack", "url_env": "SLACK_URL"}, "x")
    again = parse_channel(channel.to_dict(), "stored")
    assert again == channel and again.label == channel.label and channel.label.startswith("slack-")
    assert Channel(kind="slack", name="team").label == "team"


SPEC = """---
title: Add done.txt
repo: {repo}
acceptance:
  - tests: tests/test_done.py::test_done
agent: "command:touch done.txt"
---
Create done.txt.
"""
TEST_DONE = """from pathlib import Path


def test_done():
    assert (Path(__file__).parent.parent / "done.txt").exists()
"""


@pytest.mark.parametrize(
    ("channel", "refused"),
    [
        ('kind = "slack"\nurl_env = "SLACK_URL"', None),
        ('kind = "pager"', "overnight.toml: notify.channel #1: 'kind' must be one of"),
        ('kind = "slack"\nurl = "https://hooks.slack.com/x"', "Slack webhook URL is a secret"),
    ],
)
def test_submit_stores_the_notify_table_or_refuses_a_wrong_one(
    store: Store, tmp_path: Path, channel: str, refused: str | None
) -> None:
    toml = f"{INHERIT}\n[[notify.channel]]\n{channel}\n"
    repo = make_repo(tmp_path / "proj", {"tests/test_done.py": TEST_DONE, "overnight.toml": toml})
    spec = SPEC.format(repo=repo)
    if refused:
        with pytest.raises(ConfigError, match=refused):
            submit_text(store, spec, source="spec.md", base_dir=tmp_path)
        return
    task = submit_text(store, spec, source="spec.md", base_dir=tmp_path).task
    assert task.config["notify"] == {"channel": [{"kind": "slack", "url_env": "SLACK_URL"}]}
