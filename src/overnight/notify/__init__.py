"""Notifications: tasks that are READY, FAILED, waiting for review or held by a
budget, and a daily digest, sent to signed JSON webhooks, Slack-compatible
incoming webhooks and email (SMTP).

    settings.py    channels as configured (overnight.toml [notify], per queue)
    notices.py     what a notice says: the JSON payload and its text forms
    channels.py    sending one notice on one channel (httpx, smtplib)
    planner.py     which notices to send: events after a cursor, holds, reminders, digests
    outbox.py      the outbox: claim a notice, send it, record how it went, back off
    dispatcher.py  the loop that plans and delivers (``overnight notify``)
    queues.py      channels set per queue, the outbox listed (the CLI's store side)

Exactly once per (event, channel): a notice is planned once (unique key, the
cursor moves in the same transaction) and recorded as sending before it is
sent; see docs/notifications.md.
"""
