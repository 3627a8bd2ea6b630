"""``POST /api/hooks/github`` and ``/api/hooks/gitlab``: forge webhooks, acted on once.

Authenticated by the forge's secret, not by an overnight token: GitHub's body
must carry ``X-Hub-Signature-256`` made with ``$OVERNIGHT_GITHUB_WEBHOOK_SECRET``;
GitLab's ``X-Gitlab-Token`` must be ``$OVERNIGHT_GITLAB_WEBHOOK_SECRET`` (both
read from the dashboard's environment). A delivery's id (``X-GitHub-Delivery``,
``X-Gitlab-Event-UUID``) must be new: a replay is refused with 409, even
correctly signed; one that failed (the forge unreachable, say) is forgotten, so
the forge's redelivery can do it. What it asks is done by ``forge_events.py``;
the answer lists what was done.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, HTTPException, Request

from overnight import forge_events
from overnight.errors import OvernightError
from overnight.forges import hooks
from overnight.store import pull_requests
from overnight.web.deps import store_of
from overnight.web.schemas import ERRORS, ErrorOut

SECRET_ENV = "OVERNIGHT_GITHUB_WEBHOOK_SECRET"
GITLAB_SECRET_ENV = "OVERNIGHT_GITLAB_WEBHOOK_SECRET"
HOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "Unsigned, wrongly signed, or webhooks off"},
    409: {"model": ErrorOut, "description": "A replay: this delivery was acted on already"},
    502: {"model": ErrorOut, "description": "The forge refused what the delivery asked"},
    503: {"model": ErrorOut, "description": "The forge cannot be reached: redeliver later"},
}
router = APIRouter(prefix="/api/hooks", tags=["hooks"], responses=HOOK_ERRORS)


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
    return await _act(request, "github", x_github_delivery, actions)


@router.post("/gitlab")
async def gitlab(
    request: Request,
    x_gitlab_token: Annotated[str | None, Header()] = None,
    x_gitlab_event_uuid: Annotated[str, Header()] = "",
) -> dict[str, list[str]]:
    body = await request.body()
    try:
        hooks.verify_gitlab(os.environ.get(GITLAB_SECRET_ENV, ""), x_gitlab_token)
        actions = hooks.read_gitlab(body)
    except hooks.HookRefused as exc:
        raise HTTPException(401, str(exc)) from exc
    return await _act(request, "gitlab", x_gitlab_event_uuid, actions)


async def _act(
    request: Request, forge: str, delivery: str, actions: list[hooks.Action]
) -> dict[str, list[str]]:
    if not delivery:
        raise HTTPException(400, "no delivery id: a delivery must say which it is")
    store = store_of(request)
    with store.session() as session:
        if not pull_requests.first_delivery(session, f"{forge}:{delivery[:80]}"):
            raise HTTPException(409, f"delivery {delivery} was acted on already")
    try:
        done = await anyio.to_thread.run_sync(forge_events.act, store, forge, actions)
    except OvernightError:  # not done: a redelivery of the same id must be able to do it
        with store.session() as session:
            pull_requests.forget_delivery(session, f"{forge}:{delivery[:80]}")
        raise
    return {"done": done}
