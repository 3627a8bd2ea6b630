"""The dashboard and HTTP API: ``create_app(store, WebConfig(...))``.

app.py        the FastAPI app, error mapping
security.py   loopback, tokens, CSRF, Content-Security-Policy
pages.py      HTML pages and htmx fragments
api.py        JSON API (OpenAPI at /api/openapi.json)
events.py     server-sent events from the events table
queries.py    the task list's and task page's shapes (rows and facts: views.py)
insights.py   the insights page's report (aggregates: store/insights.py)
render.py     escaping, highlighting, Markdown, redaction
server.py     uvicorn, foreground or on a thread
"""

from overnight.web.app import WebConfig, create_app

__all__ = ["WebConfig", "create_app"]
