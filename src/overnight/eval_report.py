"""``eval compare``'s report as one self-contained HTML page: tables and inline
SVG charts (resolve rate and wall time per configuration, each pair's difference
on its interval); no script, nothing fetched."""

from __future__ import annotations

import html
from typing import Any

from overnight.eval_compare import SEED

BAR_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 320, 22, 200
STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
    "td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}"
    "svg text{font-size:12px;font-family:sans-serif}"
)


def html_report(result: dict[str, Any]) -> str:
    """The report as one self-contained page: tables and inline SVG bar charts, no
    script and nothing fetched."""
    configs, pairs = result["configs"], result["pairs"]
    rate = [
        (c["name"], c["rate"], f"{c['resolved']}/{c['runs']} ({c['rate']:.0%})") for c in configs
    ]
    seconds = [(c["name"], c["seconds"], f"{c['seconds']:.1f} s") for c in configs]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(v)}</td>"
            for v in (
                c["name"],
                c["agent"] + (f" · prompts {c['prompts']}" if c.get("prompts") else ""),
                f"{c['resolved']}/{c['runs']}",
                c["cost"],
                "unknown" if c["tokens"] is None else c["tokens"],
                f"{c['seconds']:.1f} s",
                ", ".join(f"{g} ({n})" for g, n in c["failing_gates"]) or "-",
            )
        )
        + "</tr>"
        for c in configs
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>eval compare</title>"
        f"<style>{STYLE}</style></head><body><h1>Comparison on {esc(result['suite'])}</h1>"
        "<table><tr><th>configuration</th><th>agent</th><th>resolved</th><th>cost</th>"
        f"<th>tokens</th><th>wall time</th><th>gates failed most</th></tr>{rows}</table>"
        f"<h2>Resolved (READY)</h2>{bars(rate, 1.0)}"
        f"<h2>Wall time</h2>{bars(seconds, max((s for _, s, _ in seconds), default=0.0))}"
        f"<h2>Paired differences</h2>{''.join(pair_html(p) for p in pairs)}</body></html>\n"
    )


def bars(items: list[tuple[str, float, str]], top: float) -> str:
    """A horizontal bar chart as inline SVG: label, bar (scaled to ``top``), value."""
    height = BAR_HEIGHT * len(items) + 4
    width = LABEL_WIDTH + BAR_WIDTH + 160
    parts = []
    for i, (label, value, text) in enumerate(items):
        y = i * BAR_HEIGHT + 2
        length = BAR_WIDTH * value / top if top > 0 else 0.0
        parts.append(
            f"<text x='0' y='{y + 15}'>{esc(label)}</text>"
            f"<rect x='{LABEL_WIDTH}' y='{y}' width='{length:.1f}' height='{BAR_HEIGHT - 6}' "
            f"fill='#4a7bd0'/><text x='{LABEL_WIDTH + length + 6:.1f}' y='{y + 15}'>"
            f"{esc(text)}</text>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img'>{''.join(parts)}</svg>"
    )


def pair_html(pair: dict[str, Any]) -> str:
    low, high = pair["interval"]
    disagree = "".join(
        f"<tr><td>{esc(d['instance_id'])}</td><td>{d[pair['a']]}/{d['of']}</td>"
        f"<td>{d[pair['b']]}/{d['of']}</td></tr>"
        for d in pair["disagree"]
    )
    return (
        f"<h3>{esc(pair['b'])} − {esc(pair['a'])}</h3><p>difference of resolve rates "
        f"{pair['difference']:+.3f}, {pair['level']:.0%} interval [{low:+.3f}, {high:+.3f}] "
        f"(paired bootstrap over instances, seed {SEED}); McNemar exact p = "
        f"{pair['mcnemar_p']:.4g} ({pair['only_a']} only {esc(pair['a'])}, "
        f"{pair['only_b']} only {esc(pair['b'])})</p>{interval_svg(pair)}"
        + (
            f"<table><tr><th>instance</th><th>{esc(pair['a'])}</th><th>{esc(pair['b'])}</th>"
            f"</tr>{disagree}</table>"
            if disagree
            else "<p>They agree on every instance.</p>"
        )
    )


def interval_svg(pair: dict[str, Any]) -> str:
    """The difference and its interval on an axis from -1 to +1, zero marked."""
    width, pad = 400, 20

    def x(value: float) -> float:
        return pad + (value + 1) / 2 * (width - 2 * pad)

    low, high = pair["interval"]
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='40' role='img'>"
        f"<line x1='{x(-1)}' y1='20' x2='{x(1)}' y2='20' stroke='#bbb'/>"
        f"<line x1='{x(0)}' y1='8' x2='{x(0)}' y2='32' stroke='#888'/>"
        f"<line x1='{x(low):.1f}' y1='20' x2='{x(high):.1f}' y2='20' stroke='#4a7bd0' "
        f"stroke-width='6'/><circle cx='{x(pair['difference']):.1f}' cy='20' r='5' "
        f"fill='#1d3f7a'/><text x='0' y='38'>-1</text><text x='{x(0) - 3}' y='38'>0</text>"
        f"<text x='{width - 16}' y='38'>+1</text></svg>"
    )


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)
