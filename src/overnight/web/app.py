"""The web application: dashboard pages, the JSON API and the event stream.

``create_app(store, WebConfig(...))`` builds it; ``serve`` runs it with
uvicorn. The app only reads the store and calls the same library functions as
the CLI (intake, queue, review) and renders the same read models (``views``,
``review_queue``, ``fleet.workers``), so the two always agree.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from overnight import __version__
from overnight.errors import OvernightError, SpecError
from overnight.store import Store
from overnight.web import api, hooks, pages, plans
from overnight.web.deps import status_of
from overnight.web.events import EventHub
from overnight.web.security import SecurityMiddleware, is_loopback

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


@dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8787
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths in web-submitted specs
    poll: float = 0.1  # seconds between reads of new events, while someone listens
    require_token: bool | None = None  # default: whenever the host is not loopback

    @property
    def token_required(self) -> bool:
        return not is_loopback(self.host) if self.require_token is None else self.require_token


def create_app(store: Store, config: WebConfig | None = None) -> FastAPI:
    config = config or WebConfig()
    hub = EventHub(store, config.poll)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.close()

    app = FastAPI(
        title="overnight",
        version=__version__,
        description="Queue task specs, watch them run, review what is READY. "
        "Every action of the CLI, as JSON.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI would load from a CDN: /api/docs is ours
        redoc_url=None,
        openapi_url="/api/openapi.json",
        max_body_size=8_000_000,  # a 100,000-character spec escaped as JSON fits
    )
    app.state.store, app.state.config, app.state.hub = store, config, hub
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(hooks.router)
    app.include_router(pages.router)
    app.include_router(plans.router)
    _errors(app)
    app.add_middleware(
        SecurityMiddleware,  # type: ignore[arg-type]
        store=store,
        bind_host=config.host,
        require_token=config.token_required,
    )
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(OvernightError)
    async def overnight_error(request: Request, exc: OvernightError) -> Response:
        code = status_of(exc)
        if _wants_json(request):
            body: dict = {"detail": str(exc)}
            if isinstance(exc, SpecError):
                body["problems"] = [
                    {"line": p.line, "message": p.message, "severity": p.severity}
                    for p in exc.problems
                ]
            return JSONResponse(body, code)
        return _error_page(request, code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, 422)
        text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return _error_page(request, 422, text)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, code: int, message: str) -> HTMLResponse:
    return pages.page(request, "error.html", {"code": code, "message": message}, code, live=False)
