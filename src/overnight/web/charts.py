"""Charts and a plan's graph as plain SVG geometry (no JavaScript, no inline styles): the
template draws the rectangles this module lays out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SERIES = ("succeeded", "failed", "closed", "pending")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    label: str


LEFT, RIGHT, TOP, BOTTOM = 34, 20, 8, 22  # room for the axis labels, inside the viewBox


def stacked_days(
    per_day: list[dict[str, Any]], width: float = 720, height: float = 160
) -> dict[str, Any]:
    """One stacked column per day, heights scaled to the busiest day, laid out
    inside margins that hold the axis labels (so none is cut at an edge)."""
    top = max((sum(int(d.get(s, 0)) for s in SERIES) for d in per_day), default=0) or 1
    step = width / max(len(per_day), 1)
    bars = []
    for i, day in enumerate(per_day):
        y = TOP + height
        for series in SERIES:
            count = int(day.get(series, 0))
            if not count:
                continue
            h = height * count / top
            y -= h
            bars.append(
                Bar(LEFT + i * step + 1, y, step - 2, h, series, f"{day['day']}: {count} {series}")
            )
    labels = [
        (LEFT + i * step + step / 2, d["day"][5:]) for i, d in enumerate(per_day) if i % 5 == 0
    ]
    return {
        "bars": bars,
        "top": top,
        "labels": labels,
        "plot": {"x": LEFT, "y": TOP, "width": width, "height": height},
        "view": {"width": LEFT + width + RIGHT, "height": TOP + height + BOTTOM},
    }


def horizontal(items: list[tuple[str, int]], width: float = 340) -> list[tuple[str, int, float]]:
    """(label, value, bar width) scaled to the largest value."""
    top = max((v for _, v in items), default=0) or 1
    return [(label, value, width * value / top) for label, value in items]


@dataclass(frozen=True)
class Line:
    """One configuration's measure (``resolve`` or ``cheat``) over its reports."""

    config: str
    measure: str
    tone: int  # the configuration's colour, t-0 to t-5 in app.css
    points: list[tuple[float, float, str]]  # x, y, what its title says

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in self.points)


TONES = 6
LABELS = 12  # dates under a trend, at most


def trend(points: list[dict[str, Any]], width: float = 720, height: float = 160) -> dict[str, Any]:
    """A rate (0 to 100 %) per configuration and measure, one x step per stored
    report in time order (``store.evaluations.trends``' points), so reports a day
    apart and a month apart are as easy to tell apart."""
    reports = list(dict.fromkeys((p["kind"], p["report"]) for p in points))
    step = width / max(len(reports) - 1, 1)
    at = {
        report: LEFT + (i * step if len(reports) > 1 else width / 2)
        for i, report in enumerate(reports)
    }
    configs = list(dict.fromkeys(p["config"] for p in points))
    lines = []
    for config in configs:
        for measure in ("resolve", "cheat"):
            mine = [p for p in points if p["config"] == config and p[measure] is not None]
            if mine:
                drawn = [
                    (
                        at[p["kind"], p["report"]],
                        TOP + height * (1 - p[measure]),
                        f"{config}: {measure} {100 * p[measure]:.0f}% "
                        f"({p['kind']} #{p['report']}, {p['at']:%Y-%m-%d %H:%M})",
                    )
                    for p in mine
                ]
                lines.append(Line(config, measure, configs.index(config) % TONES, drawn))
    first = {(p["kind"], p["report"]): p["at"] for p in points}
    return {
        "lines": lines,
        "legend": [(config, i % TONES) for i, config in enumerate(configs)],
        "labels": [
            (at[r], f"{first[r]:%m-%d}")
            for i, r in enumerate(reports)
            if i % math.ceil(len(reports) / LABELS) == 0
        ],
        "plot": {"x": LEFT, "y": TOP, "width": width, "height": height},
        "view": {"width": LEFT + width + RIGHT, "height": TOP + height + BOTTOM},
    }


@dataclass(frozen=True)
class Box:
    """A plan's node on its graph: a rectangle coloured by ``state``."""

    id: str
    title: str
    state: str  # a task status after submit, else a proof status
    x: float
    y: float


BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 180, 46, 60, 18, 10


def plan_graph(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes (``id``, ``title``, ``state``, ``depends_on``; dependencies first) in
    layers left to right, a node one layer right of its deepest dependency; edges
    from a dependency's right side to its dependent's left side (the arrow)."""
    layer: dict[str, int] = {}
    for node in nodes:
        needs = [layer[d] for d in node["depends_on"] if d in layer]
        layer[node["id"]] = max(needs, default=-1) + 1
    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for node in nodes:
        column = layer[node["id"]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        x = PAD + column * (BOX_W + GAP_X)
        y = PAD + row * (BOX_H + GAP_Y)
        boxes[node["id"]] = Box(node["id"], node["title"], node["state"], x, y)
    edges = [
        (
            boxes[need].x + BOX_W,
            boxes[need].y + BOX_H / 2,
            boxes[node["id"]].x - 4,  # the arrowhead ends at the box
            boxes[node["id"]].y + BOX_H / 2,
        )
        for node in nodes
        for need in node["depends_on"]
        if need in boxes
    ]
    columns = max(layer.values(), default=0) + 1
    tallest = max(rows.values(), default=1)
    return {
        "boxes": list(boxes.values()),
        "edges": edges,
        "box": {"width": BOX_W, "height": BOX_H},
        "view": {
            "width": 2 * PAD + columns * BOX_W + (columns - 1) * GAP_X,
            "height": 2 * PAD + tallest * BOX_H + (tallest - 1) * GAP_Y,
        },
    }
