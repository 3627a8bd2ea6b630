"""Feedback condensation: failed gates into a short message for the next attempt."""

from __future__ import annotations

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, GateOutcome
from overnight.gates.feedback import BUDGET, condense
from overnight.text import trim


def test_trim_keeps_short_text_and_cuts_long_text_to_the_limit_keeping_head_and_tail():
    assert trim("  short  ", 100) == "short"
    text = "HEAD" + "x" * 10_000 + "TAIL"
    cut = trim(text, 1000)
    assert len(cut) <= 1000
    assert cut.startswith("HEAD") and cut.endswith("TAIL")
    assert "characters cut" in cut


def test_condense_is_empty_when_nothing_failed():
    results = [GateOutcome("scope", PASS, "ok"), GateOutcome("lint", SKIPPED, "none")]
    assert condense(results) == ""


def test_condense_lists_failed_gates_blocking_first_with_their_feedback():
    results = [
        GateOutcome("lint", FAIL, "1 new finding", feedback="- calc.py:1: F401", blocking=False),
        GateOutcome("scope", PASS, "ok"),
        GateOutcome("tests", FAIL, "1 failing", feedback="- tests/test_mul.py::test_mul: failed"),
        GateOutcome("acceptance-commands", ERROR, "could not run"),
    ]
    text = condense(results)
    assert "scope" not in text
    tests, commands, lint = (
        text.index("## tests (fail, blocking)"),
        text.index("## acceptance-commands (error, blocking)\ncould not run"),
        text.index("## lint (fail, advisory)"),
    )
    assert tests < commands < lint
    assert "tests/test_mul.py::test_mul" in text and "F401" in text


def test_condense_stays_within_budget_and_keeps_every_failing_gate_name():
    huge = "Traceback\n" + "  frame\n" * 5000 + "AssertionError: assert 0 == 6"
    results = [
        GateOutcome("tests", FAIL, "1 failing", feedback="- t::x: failed\n" + huge),
        GateOutcome("lint", FAIL, "many", feedback="- finding\n" * 3000),
    ]
    text = condense(results)
    assert len(text) <= BUDGET
    assert "## tests" in text and "## lint" in text
    assert "- t::x: failed" in text
    assert "AssertionError: assert 0 == 6" in text  # the tail of the traceback survives


def test_short_feedback_is_kept_whole_and_leaves_its_share_to_long_feedback():
    huge = "- t::x: failed\n" + "line of traceback\n" * 2000
    results = [
        GateOutcome("scope", FAIL, "1 file", feedback="- overnight.toml: protected"),
        GateOutcome("tests", FAIL, "1 failing", feedback=huge),
    ]
    text = condense(results)
    assert "- overnight.toml: protected" in text
    assert len(text) > BUDGET - 400  # the tests gate used what scope did not need
    assert len(text) <= BUDGET
