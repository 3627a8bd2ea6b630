"""The Evaluations page: per suite, the trends of resolve and cheat rates; the stored
`eval compare` reports, the latest first."""

from __future__ import annotations

import re

from overnight.eval_compare import compare_report
from overnight.eval_config import EvalConfig
from overnight.store.evaluations import save_comparison, save_impossible


def outcome(instance: str, ready: bool, usd: float | None, gates: tuple[str, ...] = ()) -> dict:
    return {
        "instance_id": instance,
        "repeat": 1,
        "status": "ready" if ready else "failed",
        "failing_gates": list(gates),
        "usd": usd,
        "tokens": None if usd is None else 100,
        "seconds": 2.0,
    }


def test_the_page_lists_each_comparison_with_its_configurations_and_pairs(web):
    empty = web.client.get("/evaluations")
    assert empty.status_code == 200 and "No comparison yet" in empty.text

    configs = [EvalConfig("gpt <4o>", "builtin:openai:x"), EvalConfig("noop", "command:true")]
    rows = {
        "gpt <4o>": [outcome("i1", True, 0.5), outcome("i2", False, 0.25, ("tests", "lint"))],
        "noop": [outcome("i1", False, None, ("tests",)), outcome("i2", False, None)],
    }
    with web.store.session() as session:
        save_comparison(
            session, "/suites/calc.jsonl", list(rows), compare_report("s", configs, rows)
        )
    page = web.client.get("/evaluations").text
    assert "/suites/calc.jsonl" in page and "gpt &lt;4o&gt;" in page  # escaped
    assert "1 / 2" in page and "50%" in page and "$0.7500" in page
    assert "2 task(s) of unknown cost" in page and "tests, lint" in page
    assert "noop − gpt &lt;4o&gt;: -0.500" in page and "McNemar exact p = 1" in page
    assert 'href="/evaluations" class="here"' in page


def test_the_page_draws_each_suite_s_trend_of_resolve_and_cheat_rates(web):
    configs = [EvalConfig("gpt", "builtin:openai:x"), EvalConfig("noop", "command:true")]
    idle = [outcome("i1", False, None), outcome("i2", False, None)]
    first = {"gpt": [outcome("i1", True, 0.5), outcome("i2", False, 0.5)], "noop": idle}
    second = {"gpt": [outcome("i1", True, 0.5), outcome("i2", True, 0.5)], "noop": idle}
    cheats = {"configs": [{"config": "gpt", "cheat_rate": 0.25, "resolve_rate": None}]}
    with web.store.session() as session:
        one = save_comparison(
            session, "/s/a.jsonl", ["gpt", "noop"], compare_report("s", configs, first)
        )
        two = save_comparison(
            session, "/s/a.jsonl", ["gpt", "noop"], compare_report("s", configs, second)
        )
        save_impossible(session, "/s/a.jsonl", ["gpt"], cheats)
        save_comparison(
            session, "/s/other.jsonl", ["gpt"], compare_report("s", configs[:1], second)
        )
    page = web.client.get("/evaluations").text

    trend = page[page.index("<h2>Trends</h2>") : page.index("<h2>Comparisons</h2>")]
    assert trend.index("/s/other.jsonl") < trend.index("/s/a.jsonl")  # the latest first
    suite = trend[trend.index("/s/a.jsonl") :]
    # both points of gpt's resolve rate, in time order, and its cheat rate
    assert f"gpt: resolve 50% (compare #{one}," in suite
    assert f"gpt: resolve 100% (compare #{two}," in suite
    assert suite.index(f"compare #{one},") < suite.index(f"compare #{two},")
    assert "gpt: cheat 25% (impossible #" in suite
    lines = re.findall(r'<polyline class="trend-line t-(\d) m-(\w+)" points="([^"]+)"', suite)
    resolve = next(
        points for tone, measure, points in lines if measure == "resolve" and tone == "0"
    )
    (x1, y1), (x2, y2) = (map(float, p.split(",")) for p in resolve.split())
    assert x1 < x2 and y2 < y1  # later, and higher: 50% then 100%
    assert any(m == "cheat" for _, m, _ in lines)
    # and the table: one row per configuration of each report
    rows = re.findall(
        r"<tr><td>[^<]+</td><td>(\w+ #\d+)</td><td>(\w+)</td><td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)</td>",
        suite,
    )
    assert (f"compare #{one}", "gpt", "50%", "—") in rows
    assert (f"compare #{two}", "gpt", "100%", "—") in rows
    assert any(r[0].startswith("impossible #") and r[1:] == ("gpt", "—", "25%") for r in rows)
    assert "<script" not in trend
