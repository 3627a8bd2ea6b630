"""The dashboard's plans: the graph with live statuses, and the edits, drops and
queuing a human does from the page before the plan runs (web/plans.py)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from test_plan_store import planned

from overnight.planning.planfile import Plan
from overnight.planning.stored import record

from .conftest import Web

SVG = "http://www.w3.org/2000/svg"


@pytest.fixture
def folder(tmp_path: Path, home: Path) -> Path:
    return planned(tmp_path)


def plan_id(web: Web, folder: Path) -> int:
    return record(web.store, folder, Plan.load(folder))


def test_the_queue_button_submits_and_the_page_shows_each_node_with_its_status(
    web: Web, folder: Path
) -> None:
    pid = plan_id(web, folder)
    before = web.client.get(f"/plans/{pid}").text
    assert before.count('<g class="node n-proven"') == 3
    assert 'data-action="queue"' in before and "disabled" not in before
    assert f'href="/plans/{pid}"' in web.client.get("/plans").text

    done = web.post_form(f"/plans/{pid}/queue", {})

    assert done.status_code == 200 and str(done.url).endswith(f"/plans/{pid}")
    tasks = [n.task for n in Plan.load(folder).nodes]
    assert all(tasks)
    html = done.text
    svg = html[html.index('<svg class="chart plan-graph"') : html.index("</svg>") + 6]
    drawn = ElementTree.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG}" ', 1))
    nodes = drawn.findall(".//{*}g[@data-node]")  # parsed: the SVG is well-formed
    assert sorted(g.get("data-node") or "" for g in nodes) == ["mul", "power", "sub"]
    assert {g.get("class") for g in nodes} == {"node n-queued"}
    assert svg.count('class="edge"') == 3  # mul->sub, mul->power, sub->power
    for task in tasks:
        assert f'<a href="/tasks/{task}">task {task}</a>' in html
    assert "0 of 3</strong> READY or merged" in html and "tasks $0.0000" in html
    assert 'data-action="queue"' not in html and 'data-action="drop"' not in html


def test_drop_is_refused_while_others_depend_and_allowed_otherwise(web: Web, folder: Path) -> None:
    pid = plan_id(web, folder)

    refused = web.post_form(f"/plans/{pid}/nodes/mul/drop", {})
    dropped = web.post_form(f"/plans/{pid}/nodes/power/drop", {})

    assert refused.status_code == 400
    assert "cannot drop &#39;mul&#39;: sub, power depend(s) on it" in refused.text
    assert dropped.status_code == 200 and 'data-node="power"' not in dropped.text
    assert [n.id for n in Plan.load(folder).nodes] == ["mul", "sub"]
    assert web.client.post(f"/plans/{pid}/nodes/sub/drop").status_code == 403  # no CSRF


def test_an_edit_from_the_page_writes_the_spec_file(web: Web, folder: Path) -> None:
    pid = plan_id(web, folder)

    done = web.post_form(f"/plans/{pid}/nodes/mul/edit", {"description": "Multiply: a * b."})

    assert done.status_code == 200
    assert (folder / "01-mul.md").read_text().endswith("---\nMultiply: a * b.\n")
    assert "Multiply: a * b.</textarea>" in done.text
    assert "then run <code>overnight plan prove" in done.text


def test_an_unproven_node_disables_queuing_and_is_named(web: Web, folder: Path) -> None:
    plan = Plan.load(folder)
    plan.node("sub").proof = {"status": "passes-at-base", "evidence": "it passed"}
    plan.save(folder)
    pid = plan_id(web, folder)

    html = web.client.get(f"/plans/{pid}").text
    refused = web.post_form(f"/plans/{pid}/queue", {})

    assert "Not every spec is proven: <strong>sub</strong>" in html
    assert 'data-action="queue" disabled' in html
    assert '<g class="node n-passes-at-base" data-node="sub">' in html
    assert refused.status_code == 409 and "sub (passes-at-base)" in refused.text
    assert Plan.load(folder).submitted_at is None
