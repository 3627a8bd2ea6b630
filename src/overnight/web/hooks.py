"""``POST /api/hooks/github``: GitHub's webhooks, signed, acted on once.

Authenticated by the signature, not by an overnight token: the body must carry
``X-Hub-Signature-256`` made with the secret in ``$OVERNIGHT_GITHUB_WEBHOOK_SECRET``
(the dashboard's environment), and its ``X-GitHub-Delivery`` id must be new
(a replayed delivery is refused with 409, even correctly signed). What it asks
is done by ``forge_events.py``; the answer lists what was done.
"""

from __future__ import annotations

import os
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, HTTPException, Request

from overnight import forge_events
from overnight.forges import hooks
from overnight.store import pull_requests
from overnight.web.deps import store_of

SECRET_ENV = "OVERNIGHT_GITHUB_WEBHOOK_SECRET"
router = APIRouter(prefix="/api/hooks", tags=["hooks"])


@router.post("/github")
async def github(
    request: Request,
    x_github_event: Annotated[str, Header()] = "",
    x_github_delivery: Annotated[str, Header()] = "",
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> dict[str, list[str]]:
    body = await request.body()
    try:
        hooks.verify(os.environ.get(SECRET_ENV, ""), body, x_hub_signature_256)
        actions = hooks.read(x_github_event, body)
    except hooks.HookRefused as exc:
        raise HTTPException(401, str(exc)) from exc
    if not x_github_delivery:
        raise HTTPException(400, "no X-GitHub-Delivery id: a delivery must say which it is")
    store = store_of(request)
    with store.session() as session:
        if not pull_requests.first_delivery(session, f"github:{x_github_delivery[:80]}"):
            raise HTTPException(409, f"delivery {x_github_delivery} was acted on already")
    done = await anyio.to_thread.run_sync(forge_events.act, store, "github", actions)
    return {"done": done}
