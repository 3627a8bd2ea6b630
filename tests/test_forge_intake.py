"""A labelled issue read as a spec, and GitHub webhooks verified and read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overnight.forges import hooks
from overnight.forges.hooks import ChecksCompleted, HookRefused, IssueLabelled, ReviewCommand
from overnight.forges.issues import spec_from_issue
from overnight.spec.lint import parse_spec
from overnight.testing.github import sign

PATCH = """\
--- /dev/null
+++ b/tests/test_total.py
@@ -0,0 +1,4 @@
+from calc import total
+
+def test_total():
+    assert total([1, 2]) == 3
"""


def lint(tmp_path: Path, title: str, body: str, number: int = 7):
    issue = spec_from_issue(title, body, number=number, url="https://github.com/acme/app/issues/7")
    for name, text in issue.patches.items():
        (tmp_path / name).write_text(text)
    spec, problems = parse_spec(issue.text, base_dir=tmp_path)
    return spec, [p for p in problems if p.severity == "error"], issue


def test_an_issue_form_becomes_a_spec_with_its_test_patch(tmp_path):
    body = (
        "### What should change\n\n`total()` adds the numbers it is given.\n\n"
        "### Acceptance tests\n\n- `tests/test_total.py::test_total`\n\n"
        f"### Test patch\n\n```diff\n{PATCH}```\n\n"
        "### Allowed paths\n\n_No response_\n"
    )
    spec, errors, issue = lint(tmp_path, "Add total()", body)
    assert errors == []
    assert spec.title == "Add total()"
    assert spec.acceptance_tests == ["tests/test_total.py::test_total"]
    assert [p.text for p in spec.test_patches] == [PATCH]
    assert "adds the numbers" in spec.description and "```" not in spec.description
    assert "issues/7" in spec.description
    assert spec.scope.allow == []


def test_front_matter_in_an_issue_is_a_spec_and_its_diff_blocks_are_test_patches(tmp_path):
    body = (
        "---\nacceptance:\n  - tests: tests/test_total.py::test_total\nbudget: {attempts: 2}\n---\n"
        f"Add `total`.\n\n```diff\n{PATCH}```\n"
    )
    spec, errors, issue = lint(tmp_path, "Add total()", body)
    assert errors == [] and spec.budget.attempts == 2
    assert list(issue.patches) == ["issue-7-1.patch"] and spec.test_patches[0].text == PATCH


def test_an_issue_without_acceptance_tests_is_refused_by_the_linter(tmp_path):
    _, errors, _ = lint(tmp_path, "Make it faster", "It is slow. Please fix.")
    assert any("acceptance" in p.message for p in errors)


def test_yaml_in_an_issue_is_loaded_safely(tmp_path):
    body = "---\ntitle: !!python/object/apply:os.system ['true']\n---\nx\n"
    _, errors, issue = lint(tmp_path, "t", body)
    assert issue.text == body and errors and errors[0].line == 2


SECRET = "s3cret"


def delivery(event: str, payload: dict) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, sign(SECRET, body)


def test_only_a_body_signed_with_the_secret_is_accepted():
    body, signature = delivery("issues", {"action": "opened"})
    hooks.verify(SECRET, body, signature)
    for bad_body, bad_signature, reason in [
        (body, None, "unsigned"),
        (body, sign("other", body), "bad signature"),
        (body + b" ", signature, "bad signature"),
    ]:
        with pytest.raises(HookRefused, match=reason):
            hooks.verify(SECRET, bad_body, bad_signature)
    with pytest.raises(HookRefused, match="webhooks are off"):
        hooks.verify("", body, signature)


def payload(**parts) -> dict:
    return {"repository": {"full_name": "acme/app"}, **parts}


def test_labelled_issues_comment_commands_reviews_and_checks_are_read():
    issue = {
        "number": 3,
        "title": "T",
        "body": "B",
        "user": {"login": "dev"},
        "labels": [{"name": "overnight"}],
        "html_url": "u",
    }
    assert hooks.read("issues", json.dumps(payload(action="labeled", issue=issue)).encode()) == [
        IssueLabelled("acme/app", 3, "T", "B", "dev", "u")
    ]
    unlabelled = {**issue, "labels": [{"name": "bug"}]}
    assert (
        hooks.read("issues", json.dumps(payload(action="opened", issue=unlabelled)).encode()) == []
    )

    comment = {
        "body": "Thanks!\n/overnight request-changes use a generator\nand keep the order\n",
        "user": {"login": "lead"},
    }
    pr_issue = {"number": 9, "pull_request": {}}
    read = hooks.read(
        "issue_comment",
        json.dumps(payload(action="created", issue=pr_issue, comment=comment)).encode(),
    )
    assert read == [
        ReviewCommand(
            "acme/app", 9, "request-changes", "use a generator\nand keep the order", "lead"
        )
    ]
    review = {"state": "changes_requested", "body": "", "user": {"login": "lead"}}
    read = hooks.read(
        "pull_request_review",
        json.dumps(payload(action="submitted", review=review, pull_request={"number": 9})).encode(),
    )
    assert read[0].verb == "request-changes" and read[0].text.startswith("changes requested")
    suite = payload(action="completed", check_suite={"head_sha": "a" * 40})
    assert hooks.read("check_suite", json.dumps(suite).encode()) == [
        ChecksCompleted("acme/app", "a" * 40)
    ]


def test_commands_must_start_a_line_and_several_are_read_in_order():
    assert hooks.commands("please /overnight approve") == []
    assert hooks.commands("/overnight approve\n/overnight reject wrong idea") == [
        ("approve", ""),
        ("reject", "wrong idea"),
    ]
    assert hooks.commands("/overnight approved") == []
