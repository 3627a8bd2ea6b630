"""Charts as plain SVG geometry (no JavaScript, no inline styles): the
template draws the rectangles this module lays out."""

from __future__ import annotations

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
