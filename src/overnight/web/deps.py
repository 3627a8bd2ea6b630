"""What routes share: the store and configuration of the running app, and the
HTTP status each overnight error maps to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from overnight.errors import (
    ForgeError,
    InfrastructureError,
    MergeConflict,
    NotFound,
    OvernightError,
    SpecError,
    StateError,
    UsageError,
)
from overnight.store import Store, StoreError

if TYPE_CHECKING:
    from overnight.web.app import WebConfig

STATUS: list[tuple[type[OvernightError], int]] = [
    (NotFound, 404),
    (SpecError, 422),
    (UsageError, 400),
    (StateError, 409),
    (MergeConflict, 409),
    (StoreError, 503),
    (InfrastructureError, 503),  # a forge or a model unreachable: try again later
    (ForgeError, 502),  # the forge refused: its reason is in the message
    (OvernightError, 409),  # git, workspace, setup: the request cannot be done as things are
]


def status_of(exc: OvernightError) -> int:
    return next(code for kind, code in STATUS if isinstance(exc, kind))


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def config_of(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.config
    return config
