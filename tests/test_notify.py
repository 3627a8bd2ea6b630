"""The notifications dispatcher: READY/FAILED events, budget holds, review
reminders and the digest reach a signed webhook, a Slack-compatible webhook and
a real SMTP server on loopback, once per (event, channel); a dead endpoint is
retried then marked failed without holding anything else up; a dispatcher
killed after sending resends at most that one notice."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from overnight import lifecycle
from overnight.fleet import set_queue
from overnight.notify.dispatcher import DispatchConfig, Dispatcher
from overnight.notify.outbox import Policy
from overnight.notify.queues import add_channel
from overnight.store import Run, Store, Task, TaskStatus, Turn, now
from overnight.store.notices import Notice
from overnight.testing.notify import TIMESTAMP, NoticeReceiver

BOTH_DATABASES = True
SECRET = "webhook-signing-secret"
AGENT_KEY = "sk-agent-key-0123456789"
OVERNIGHT = str(Path(sys.executable).with_name("overnight"))


def env() -> dict[str, str]:
    """This test's environment, for an `overnight` subprocess of this tree."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


FAST = DispatchConfig(
    dashboard_url="https://overnight.example.com/",
    digest_hour=None,
    policy=Policy(retry_base=0.0, max_attempts=3, lease=0.0),
)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[NoticeReceiver]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("AGENT_KEY", AGENT_KEY)
    with NoticeReceiver(secret=SECRET) as receiver:
        yield receiver


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "secret_env": "HOOK_SECRET", **extra}


def make_task(store: Store, channels: list[dict[str, Any]], queue: str = "default") -> int:
    with store.session() as session:
        task = Task(
            title="Add mul",
            slug="add-mul",
            spec={},
            spec_text="",
            config={"notify": {"channel": channels}, "agent_env": ["AGENT_KEY"]},
            repo="/repo",
            base_ref="main",
            base_sha="0" * 40,
            branch="overnight/1-add-mul",
            agent="builtin",
            queue=queue,
        )
        session.add(task)
        session.flush()
        session.add(Run(task_id=task.id, number=1, base_sha="0" * 40))
        session.flush()
        return task.id


def end(store: Store, task_id: int, status: TaskStatus, reason: str | None) -> None:
    with store.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        run = task.runs[-1]
        session.add(
            Turn(
                run_id=run.id,
                attempt=1,
                number=1,
                model="m",
                cost=0.0125,
                request={},
                response={},
            )
        )
        lifecycle.finish(session, task, run, status, reason)


def notices(store: Store) -> list[Notice]:
    with store.session() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def test_ready_and_failed_reach_a_signed_webhook_once_with_cost_link_and_keys_masked(
    store: Store, receiver: NoticeReceiver
) -> None:
    dispatcher = Dispatcher(store, FAST)
    dispatcher.plan()  # the cursor starts at the last event: history is not notified
    first = make_task(store, [webhook(receiver.url)])
    second = make_task(store, [webhook(receiver.url, events=["failed"])])
    end(store, first, TaskStatus.READY, None)
    end(store, second, TaskStatus.FAILED, f"budget: spent; the key was {AGENT_KEY}")
    assert dispatcher.drain() == 2
    assert dispatcher.drain() == 0  # nothing twice
    ready, failed = [r.json for r in receiver.received]
    assert all(r.signed for r in receiver.received)
    assert ready["event"] == "ready" and ready["task"]["id"] == first
    assert ready["task"]["cost"] == "$0.0125"
    assert ready["task"]["url"] == f"https://overnight.example.com/tasks/{first}"
    assert failed["event"] == "failed" and failed["task"]["reason"].startswith("budget: spent")
    assert AGENT_KEY not in receiver.received[1].body.decode()
    assert "[redacted $AGENT_KEY]" in failed["task"]["reason"]
    header = receiver.received[0].headers
    assert ready["delivery"] == receiver.deliveries()[0] != receiver.deliveries()[1]
    assert abs(int(header[TIMESTAMP.lower()]) - time.time()) < 60
    assert [n.state for n in notices(store)] == ["sent", "sent"]


class Inbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it receives and,
    given ``users``, asks for a login (AUTH without TLS: loopback only)."""

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.messages: list[Any] = []
        self.users = users
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        extra: dict[str, Any] = {}
        if users is not None:
            extra = {"authenticator": self.login, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **extra)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def login(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword) and self.users is not None
        good = self.users.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=good, handled=False)

    def __enter__(self) -> Inbox:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


def test_slack_gets_mrkdwn_text_and_email_reaches_a_real_smtp_server(
    store: Store, receiver: NoticeReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Inbox() as inbox:
        monkeypatch.setenv("SLACK_URL", receiver.url)
        channels = [
            {"kind": "slack", "url_env": "SLACK_URL"},
            {"kind": "email", "host": "127.0.0.1", "port": inbox.port, "to": ["team@example.com"]},
        ]
        dispatcher = Dispatcher(store, FAST)
        dispatcher.plan()
        task_id = make_task(store, channels)
        end(store, task_id, TaskStatus.FAILED, "tests: test_mul failed <here> & there")
        assert dispatcher.drain() == 2
    (slack,) = receiver.received
    assert list(slack.json) == ["text"]
    assert slack.json["text"].startswith(f"*Task {task_id} FAILED: Add mul")
    assert "&lt;here&gt; &amp; there" in slack.json["text"]
    assert f"<https://overnight.example.com/tasks/{task_id}|" in slack.json["text"]
    (mail,) = inbox.messages
    assert mail.rcpt_tos == ["team@example.com"]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert (
        message["Subject"].strip().startswith(f"overnight: Task {task_id} FAILED: Add mul (tests:")
    )
    assert "Cost:   $0.0125" in message.get_content()


def test_email_logs_in_with_credentials_from_the_environment_and_never_quotes_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_USER", "overnight")
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password-1234")
    with Inbox(users={"overnight": "right-password-1234"}) as inbox:
        channel = {
            "kind": "email",
            "name": "mail",
            "host": "127.0.0.1",
            "port": inbox.port,
            "to": ["team@example.com"],
            "from": "overnight@example.com",
            "username_env": "SMTP_USER",
            "password_env": "SMTP_PASSWORD",
        }
        dispatcher = Dispatcher(store, FAST)
        dispatcher.plan()
        end(store, make_task(store, [channel]), TaskStatus.READY, None)
        end(store, make_task(store, [channel]), TaskStatus.READY, None)
        assert dispatcher.drain() == 6  # two notices, three attempts each
        refused = notices(store)
        assert [n.state for n in refused] == ["failed", "failed"]
        reason = refused[0].last_error or ""
        assert reason.startswith("mail: SMTPAuthenticationError") and "\n" not in reason
        assert "wrong-password-1234" not in reason
        monkeypatch.setenv("SMTP_PASSWORD", "right-password-1234")
        end(store, make_task(store, [channel]), TaskStatus.READY, None)
        assert dispatcher.drain() == 1
    (mail,) = inbox.messages
    assert mail.mail_from == "overnight@example.com" and mail.rcpt_tos == ["team@example.com"]
    assert store_config_has_no_password(store)


def store_config_has_no_password(store: Store) -> bool:
    with store.session() as session:
        rows = [*session.scalars(select(Task.config)), *session.scalars(select(Notice.target))]
    return all("right-password" not in json.dumps(row) for row in rows)


def test_a_dead_endpoint_is_retried_then_failed_and_holds_nothing_up(
    store: Store, receiver: NoticeReceiver
) -> None:
    dead = "http://127.0.0.1:9/hook"  # discard port: nothing listens
    dispatcher = Dispatcher(store, FAST)
    dispatcher.plan()
    task_id = make_task(store, [webhook(dead, name="dead"), webhook(receiver.url, name="live")])
    end(store, task_id, TaskStatus.READY, None)
    assert dispatcher.drain() == 4  # the live one once, the dead one max_attempts times
    by_channel = {n.channel: n for n in notices(store)}
    assert by_channel["live"].state == "sent" and len(receiver.received) == 1
    assert (by_channel["dead"].state, by_channel["dead"].attempts) == ("failed", 3)
    reason = by_channel["dead"].last_error or ""
    assert reason.startswith("dead: ConnectError") and "\n" not in reason


def test_a_failed_attempt_backs_off_before_the_next(store: Store, receiver: NoticeReceiver) -> None:
    clock = [now()]
    slow = DispatchConfig(digest_hour=None, policy=Policy(retry_base=30.0, max_attempts=3))
    dispatcher = Dispatcher(store, slow, clock=lambda: clock[0])
    dispatcher.plan()
    receiver.status = 503
    end(store, make_task(store, [webhook(receiver.url)]), TaskStatus.READY, None)
    assert dispatcher.drain() == 1
    (notice,) = notices(store)
    assert (notice.state, notice.last_error) == ("pending", f"{notice.channel}: HTTP 503 ok")
    clock[0] += timedelta(seconds=29)
    assert dispatcher.drain() == 0  # still backing off
    receiver.status = 200
    clock[0] += timedelta(seconds=2)
    assert dispatcher.drain() == 1
    assert notices(store)[0].state == "sent" and len(receiver.received) == 2


def test_queue_channels_budget_holds_reminders_and_the_digest(
    store: Store, receiver: NoticeReceiver
) -> None:
    add_channel(store, "nightly", webhook(receiver.url, name="nightly-hook"))
    add_channel(store, "*", webhook(receiver.url, name="everyone", events=["digest"]))
    clock = [now()]
    dispatcher = Dispatcher(store, FAST, clock=lambda: clock[0])
    dispatcher.plan()
    held = make_task(store, [], queue="nightly")
    ready = make_task(store, [], queue="nightly")
    other = make_task(store, [], queue="default")
    end(store, ready, TaskStatus.READY, None)
    end(store, other, TaskStatus.READY, None)  # no channel wants it: its queue has none
    set_queue(store, "nightly", usd_per_day=0.01, paused=None)  # $0.0125 spent today
    dispatcher.drain()
    kinds = sorted((r.json["event"], r.json["task"]["id"]) for r in receiver.received)
    assert kinds == [("held", held), ("ready", ready)]
    (hold,) = [r.json["task"] for r in receiver.received if r.json["event"] == "held"]
    assert "queue nightly daily budget $0.01 spent" in hold["reason"]
    dispatcher.drain()  # held once a day, ready once
    assert len(receiver.received) == 2
    clock[0] += timedelta(hours=25)
    dispatcher.drain()
    held_again = [r.json for r in receiver.received[2:] if r.json["event"] == "held"]
    review = [r.json for r in receiver.received[2:] if r.json["event"] == "review"]
    assert held_again == []  # a new UTC day: the budget starts again from $0
    assert [r["task"]["id"] for r in review] == [ready]
    count = len(receiver.received)
    result = subprocess.run(
        [OVERNIGHT, "notify", "digest", "--since", "48"], env=env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("UTC: 2 channel(s), 2 sent, 0 failed\n")
    digests = [r.json for r in receiver.received[count:]]
    assert [d["event"] for d in digests] == ["digest", "digest"]  # one per channel
    everyone = next(d for d in digests if len(d["review"]) == 2)
    assert [t["id"] for t in everyone["ready"]] == [ready, other]
    assert [t["id"] for t in everyone["held"]] == [held]
    assert everyone["cost"] == "$0.0250" and everyone["text"].startswith(
        "overnight digest: 2 ready"
    )


def test_the_daily_digest_is_sent_once_at_its_hour(store: Store, receiver: NoticeReceiver) -> None:
    add_channel(store, "*", webhook(receiver.url, events=["digest"]))
    clock = [now().replace(hour=7, minute=59)]
    config = DispatchConfig(digest_hour=8, policy=FAST.policy)
    dispatcher = Dispatcher(store, config, clock=lambda: clock[0])
    dispatcher.drain()
    assert receiver.received == []
    clock[0] += timedelta(minutes=2)
    dispatcher.drain()
    dispatcher.drain()
    assert [r.json["event"] for r in receiver.received] == ["digest"]
    assert receiver.received[0].json["until"].endswith("08:00:00Z")


def test_a_crash_between_send_and_record_resends_that_notice_once(
    store: Store, receiver: NoticeReceiver
) -> None:
    class Crash(BaseException):
        pass

    sent: list[str] = []

    def send_then_crash(channel: Any, payload: Any, delivery: str, moment: Any) -> None:
        from overnight.notify.channels import send

        send(channel, payload, delivery, moment)
        sent.append(delivery)
        if len(sent) == 2:
            raise Crash  # the process dies before recording the second send

    first = Dispatcher(store, FAST, send=send_then_crash)
    first.plan()
    for _ in range(3):
        end(store, make_task(store, [webhook(receiver.url)]), TaskStatus.READY, None)
    with pytest.raises(Crash):
        first.drain()
    assert [n.state for n in notices(store)] == ["sent", "sending", "pending"]
    Dispatcher(store, FAST).drain()  # restarted: the lease (0 s here) is over
    deliveries = receiver.deliveries()
    assert sorted(set(deliveries)) == sorted(n.delivery for n in notices(store))
    assert len(deliveries) == 4 and deliveries.count(sent[1]) == 2  # the documented case
    assert [n.state for n in notices(store)] == ["sent"] * 3


def test_a_dispatcher_killed_after_sending_loses_nothing_and_resends_at_most_one(
    store: Store, receiver: NoticeReceiver, tmp_path: Path
) -> None:
    command = [OVERNIGHT, "notify", "--no-digest", "--retry-base", "0", "--lease", "0"]
    subprocess.run([*command, "--once"], env=env(), check=True, capture_output=True)
    for _ in range(4):
        end(store, make_task(store, [webhook(receiver.url)]), TaskStatus.READY, None)
    process = subprocess.Popen([*command, "--poll", "0.1"], env=env())

    def kill_on_the_second(item: Any) -> None:
        if len(receiver.received) == 1:  # the second request: kill before answering
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    receiver.on_request = kill_on_the_second
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.returncode == -signal.SIGKILL
    receiver.on_request = None
    result = subprocess.run([*command, "--once"], env=env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    deliveries = receiver.deliveries()
    assert sorted(set(deliveries)) == sorted(n.delivery for n in notices(store))
    assert len(deliveries) - len(set(deliveries)) <= 1
    assert [n.state for n in notices(store)] == ["sent"] * 4
    assert json.loads(receiver.received[-1].body)["event"] == "ready"
