"""The Evaluations page: stored `eval compare` reports, the latest first."""

from __future__ import annotations

from overnight.eval_compare import compare_report
from overnight.eval_config import EvalConfig
from overnight.store.evaluations import save_comparison


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
