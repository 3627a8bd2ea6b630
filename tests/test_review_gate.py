"""The review gate against the scripted model server: a fixed structure, strictly parsed."""

from __future__ import annotations

import json

import pytest
from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS, SKIPPED, GateOutcome
from overnight.gates.review import MalformedReview, ReviewGate, parse_review
from overnight.testing.llm_server import Fail, Say, ScriptedLLMServer

CALC = "def add(a, b):\n    return a + b\n"
MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
APPROVE = {
    "verdict": "pass",
    "does_what_was_asked": True,
    "summary": "Adds mul as asked.",
    "missing": [],
    "risks": ["calc.py:5: no type hints"],
}
REJECT = {
    "verdict": "fail",
    "does_what_was_asked": False,
    "summary": "mul returns a sum.",
    "missing": ["mul(a, b) must return the product"],
    "risks": [],
}


def review(tmp_path, answer: str | Fail, blocking: bool = False, outcomes=None, extra=""):
    item = answer if isinstance(answer, Fail) else Say(answer)
    with ScriptedLLMServer([item]) as server:
        text = (
            f'[gates.review]\nmodel = "{server.model_name}"\nblocking = {str(blocking).lower()}\n'
            + extra
        )
        ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": MUL}, config=config(text))
        ctx.evidence["outcomes"] = outcomes or {"tests": GateOutcome("tests", PASS, "3 pass")}
        result = ReviewGate().check(ctx)
    return result, server.requests


def test_an_approving_review_passes_with_its_comments_for_the_pull_request(tmp_path):
    result, requests = review(tmp_path, json.dumps(APPROVE))
    assert result.verdict == PASS
    assert result.summary == "approved: Adds mul as asked."
    assert "Risky spots:\n- calc.py:5: no type hints" in result.report
    [request] = requests
    prompt = request.body["messages"][1]["content"]
    assert "+def mul(a, b):" in prompt and "Add `mul(a, b)` to calc.py." in prompt
    assert "- tests: pass — 3 pass" in prompt
    assert request.body["temperature"] == 0


def test_a_rejecting_review_fails_and_its_comments_become_feedback(tmp_path):
    result, _ = review(tmp_path, "```json\n" + json.dumps(REJECT) + "\n```")
    assert result.verdict == FAIL
    assert "Missing:\n- mul(a, b) must return the product" in result.feedback
    assert result.report.startswith("**FAIL**")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("Looks good to me!", "not a JSON object"),
        (json.dumps({**APPROVE, "verdict": "maybe"}), "verdict must be 'pass' or 'fail'"),
        (json.dumps({k: v for k, v in APPROVE.items() if k != "risks"}), "missing risks"),
        (json.dumps({**APPROVE, "missing": "nothing"}), "missing must be a list of strings"),
    ],
)
def test_a_malformed_answer_is_an_error_not_a_pass(tmp_path, answer, problem):
    result, _ = review(tmp_path, answer)
    assert result.verdict == ERROR
    assert problem in result.summary
    assert answer in result.log  # the reviewer's raw answer is kept
    with pytest.raises(MalformedReview):
        parse_review(answer)


def test_the_review_never_runs_over_a_failed_blocking_gate(tmp_path):
    failed = {"tests": GateOutcome("tests", FAIL, "1 failing")}
    result, requests = review(tmp_path, json.dumps(APPROVE), outcomes=failed)
    assert result.verdict == SKIPPED
    assert result.summary == "not reviewed: blocking gates failed (tests)"
    assert requests == []


def test_without_a_model_the_review_is_skipped(tmp_path):
    ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": MUL})
    assert ReviewGate().check(ctx).verdict == SKIPPED


def test_a_reviewer_that_cannot_be_reached_is_an_error(tmp_path):
    result, requests = review(tmp_path, Fail(404, message="model 'scripted' not found"))
    assert len(requests) == 1
    assert result.verdict == ERROR
    assert result.summary.startswith("the reviewer could not be asked: ")
    assert "404" in result.summary


def test_an_approval_of_a_cut_diff_is_an_error_and_a_rejection_still_fails(tmp_path):
    result, requests = review(tmp_path, json.dumps(APPROVE), extra="max_diff_chars = 60\n")
    assert result.verdict == ERROR
    assert result.summary.startswith("the reviewer approved a diff cut to 60 characters (")
    assert "raise [gates.review] max_diff_chars" in result.summary
    prompt = requests[0].body["messages"][1]["content"]
    assert "more characters of diff not shown" in prompt
    result, _ = review(tmp_path / "b", json.dumps(REJECT), extra="max_diff_chars = 60\n")
    assert result.verdict == FAIL
