"""The Jinja environment of the dashboard: autoescape on for every template,
and the filters that turn stored values into text or safe HTML."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from overnight.views import badge
from overnight.web import render

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    redact=render.redact,
    markdown=render.markdown_html,
    duration=render.duration,
    short_repo=render.short_repo,
    lines=render.line_count,
    clip=lambda text: render.clip(text, 20_000)[0],
)
environment.globals.update(
    ago=render.ago,
    badge=badge,
    diff_view=render.diff_view,
    split_rows=render.split_rows,
    folded=render.folded,
)
templates = Jinja2Templates(env=environment)
