"""The dashboard's plans (docs/web.md): the list, and a plan's page with its graph
(inline SVG), each node's live status, progress and cost. Before it is queued a
human may edit a spec's description, drop a spec, or queue the plan; each is a
form post (CSRF-checked, then a redirect) that calls the planning module, which
writes the plan's folder and the store's copy: no file is written here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from overnight.errors import NotFound, OvernightError
from overnight.planning.edit import MAX_DESCRIPTION, drop_node, edit_description
from overnight.planning.stored import board, folder_of, plan_list
from overnight.planning.submit import submit_plan
from overnight.store import Store, now
from overnight.web import charts
from overnight.web.deps import status_of, store_of
from overnight.web.pages import page
from overnight.web.security import check_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])

PlanId = Annotated[int, Path(ge=1, le=2**53)]
NodeId = Annotated[str, Path(max_length=100)]
Description = Annotated[str, Form(max_length=MAX_DESCRIPTION * 2)]


@router.get("/plans")
def plans(request: Request) -> HTMLResponse:
    with store_of(request).reading() as session:
        rows = plan_list(session)
    return page(request, "plans.html", {"rows": rows})


@router.get("/plans/{plan_id}")
def plan_page(request: Request, plan_id: PlanId) -> HTMLResponse:
    return page(request, "plan.html", _context(store_of(request), plan_id))


def _context(store: Store, plan_id: int) -> dict[str, Any]:
    with store.reading() as session:
        shown = board(session, plan_id, now())
    return {"board": shown, "graph": charts.plan_graph(shown.nodes), "error": None}


def _act(request: Request, plan_id: int, action: str, node: str = "", text: str = "") -> Response:
    """Run one change through the planning module; its refusal is shown on the page."""
    store = store_of(request)
    with store.reading() as session:
        folder = folder_of(session, plan_id)
    try:
        if action == "edit":
            edit_description(store, folder, node, text)
        elif action == "drop":
            drop_node(store, folder, node)
        else:
            submit_plan(store, folder)
    except NotFound:
        raise
    except OvernightError as exc:
        context = _context(store, plan_id) | {"error": str(exc)}
        return page(request, "plan.html", context, status_of(exc))
    return RedirectResponse(f"/plans/{plan_id}", 303)


@router.post("/plans/{plan_id}/nodes/{node_id}/edit")
def edit(
    request: Request, plan_id: PlanId, node_id: NodeId, description: Description = ""
) -> Response:
    return _act(request, plan_id, "edit", node_id, description)


@router.post("/plans/{plan_id}/nodes/{node_id}/drop")
def drop(request: Request, plan_id: PlanId, node_id: NodeId) -> Response:
    return _act(request, plan_id, "drop", node_id)


@router.post("/plans/{plan_id}/queue")
def queue_plan(request: Request, plan_id: PlanId) -> Response:
    return _act(request, plan_id, "queue")
