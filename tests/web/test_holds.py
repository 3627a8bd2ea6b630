"""Why a queued task waits, in the JSON API and on the dashboard's task list and
task page (computed by ``overnight.holds``, as the CLI shows it)."""

from __future__ import annotations

from overnight.fleet import set_queue
from overnight.intake import submit_text

from .conftest import Web

BOTH_DATABASES = True


def submit(web: Web, mul_spec, agent: str, extra: str, name: str) -> int:
    spec = mul_spec(agent, extra=extra, name=name)
    return submit_text(web.store, spec.read_text(), source=name, base_dir=spec.parent).task.id


def test_the_api_and_the_pages_say_why_a_queued_task_waits(web, mul_spec):
    held = submit(web, mul_spec, "command:true", "queue: nightly\n", "a.md")
    waiting = submit(
        web, mul_spec, "command:true", f"depends_on: [{{task: {held}, until: merged}}]\n", "b.md"
    )
    set_queue(web.store, "nightly", paused=True)
    paused = "held: queue nightly paused by hand (overnight queue set nightly --resume)"
    merge = f"waiting for task {held} to be merged (it is queued)"

    rows = {r["id"]: r for r in web.client.get("/api/tasks").json()["tasks"]}
    assert rows[held]["holds"] == [{"kind": "queue-paused", "message": paused, "until": None}]
    assert [h["message"] for h in rows[waiting]["holds"]] == [merge]
    detail = web.client.get(f"/api/tasks/{waiting}").json()
    assert detail["holds"] == [{"kind": "dependency", "message": merge, "until": None}]

    listing = web.client.get("/tasks").text
    assert f'<span class="hold">{paused}</span>' in listing
    page = web.client.get(f"/tasks/{held}").text
    assert f'<ul class="holds" aria-label="why it is not running"><li>{paused}</li></ul>' in page

    set_queue(web.store, "nightly", paused=False)
    row = web.client.get(f"/api/tasks/{held}").json()
    assert [h["kind"] for h in row["holds"]] == ["worker"]  # no worker runs: it says so
    assert "waiting for a worker: none is running" in web.client.get(f"/tasks/{held}").text
