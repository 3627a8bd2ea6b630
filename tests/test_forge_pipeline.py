"""A project whose [forge] is GitHub, end to end on the GitHub fake: a task's
pull request is opened there with the evidence, request-changes comments the
feedback and the next run updates the same pull request, approve merges
through the API (branch protection is GitHub's), reject closes it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import OVERNIGHT_TOML, drain
from github_schema import check_all
from sqlalchemy import func, select

from overnight.errors import ConfigError, ForgeError
from overnight.intake import submit_text
from overnight.review import approve, reject, request_changes
from overnight.store import Store, Task, TaskStatus
from overnight.testing import commit_all
from overnight.testing.github import GitHubServer, sign
from overnight.testing.gitlab import MAINTAINER, GitLabServer, Job
from overnight.testing.gitlab import hooks as gitlab_hooks
from overnight.views import task_detail
from overnight.web import WebConfig, create_app
from overnight.web.server import background
from overnight.workspace.git import git

APPEND_MUL = (
    "grep -q 'def mul' calc.py || printf '\\n\\ndef mul(a, b):\\n    return a * b\\n' >> calc.py\n"
)
TOKEN_ENV = "OVERNIGHT_TEST_GITHUB_TOKEN"


@pytest.fixture
def hub(tmp_path: Path, calc_repo: Path, monkeypatch: pytest.MonkeyPatch):
    """GitHub holding the calc project, whose overnight.toml delivers there."""
    with GitHubServer(tmp_path / "github") as server:
        forge = (
            f'\n[forge]\nkind = "github"\nrepo = "acme/calc"\napi_url = "{server.url}"\n'
            f'git_url = "{server.url}"\ntoken_env = "{TOKEN_ENV}"\nlabels = ["overnight", "bot"]\n'
        )
        (calc_repo / "overnight.toml").write_text(OVERNIGHT_TOML + forge)
        commit_all(calc_repo, "deliver to GitHub")
        server.add_repo("acme/calc", source=calc_repo)
        monkeypatch.setenv(TOKEN_ENV, server.add_user("bot", repo="acme/calc", permission="write"))
        yield server


def detail(store: Store, task_id: int) -> dict:
    with store.session() as session:
        return task_detail(session, store.task(session, task_id), diff=False)


def agent(tmp_path: Path) -> str:
    """Adds mul(); keeps the feedback it was given where the test reads it."""
    script = tmp_path / "agent.sh"
    script.write_text(
        f'printf %s "$OVERNIGHT_FEEDBACK" > {tmp_path}/agent-feedback.txt\n' + APPEND_MUL
    )
    return f"command:sh {script}"


def ready(store: Store, mul_spec, tmp_path: Path) -> int:
    spec = mul_spec(agent(tmp_path))
    task_id = submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent).task.id
    drain(store)
    task = detail(store, task_id)
    assert task["status"] == TaskStatus.READY, task["failure_reason"]
    return task_id


def test_a_task_s_pull_request_lives_on_github_from_delivery_to_merge(
    store, mul_spec, hub, tmp_path, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_DASHBOARD_URL", "https://overnight.example.com/")
    task_id = ready(store, mul_spec, tmp_path)
    [pull] = hub.pulls("acme/calc")
    task = detail(store, task_id)
    assert f"on the dashboard: https://overnight.example.com/tasks/{task_id}." in pull["body"]
    assert pull["head"]["ref"] == task["branch"] and pull["head"]["sha"] == task["head_sha"]
    assert "## Evidence" in pull["body"] and "| tests | PASS" in pull["body"]
    assert [label["name"] for label in pull["labels"]] == ["overnight", "bot"]
    pr = task["pull_request"]
    assert (pr["forge"], pr["number"], pr["url"]) == ("github", 1, pull["html_url"])

    request_changes(store, task_id, "keep mul next to add")
    assert hub.comments("acme/calc", 1) == ["Changes requested:\n\nkeep mul next to add"]
    drain(store)
    assert detail(store, task_id)["status"] == TaskStatus.READY
    [pull] = hub.pulls("acme/calc")  # the same pull request, updated
    assert "Review feedback addressed" in pull["body"]
    assert len(hub.calls("POST", r"/repos/acme/calc/pulls")) == 1

    sha = detail(store, task_id)["head_sha"]
    hub.protect("acme/calc", "main", checks=["ci"])
    hub.add_check("acme/calc", sha, "ci", "failure", summary="2 failed")
    with pytest.raises(ForgeError, match=r'refused to merge pull request #1: .*"ci" is failing'):
        approve(store, task_id)
    assert detail(store, task_id)["status"] == TaskStatus.READY  # nothing recorded

    hub.add_check("acme/calc", sha, "ci", "success")
    merged = approve(store, task_id)
    assert git(["rev-parse", "refs/heads/main"], hub.repos["acme/calc"].path) == merged
    task = detail(store, task_id)
    assert task["status"] == TaskStatus.MERGED and task["pull_request"]["state"] == "merged"
    assert check_all(hub) >= 8  # every request overnight sent is one GitHub accepts


def test_reject_closes_the_pull_request_on_github_with_the_reason(store, mul_spec, hub, tmp_path):
    task_id = ready(store, mul_spec, tmp_path)
    reject(store, task_id, "mul belongs in a new module")
    [pull] = hub.pulls("acme/calc")
    assert pull["state"] == "closed" and not pull["merged"]
    assert hub.comments("acme/calc", 1) == ["mul belongs in a new module"]
    assert detail(store, task_id)["status"] == TaskStatus.REJECTED


def test_a_forge_table_that_cannot_work_is_refused_at_submit(store, mul_spec, calc_repo, tmp_path):
    for table, says in [
        ('kind = "github"\n', "missing 1 required positional argument: 'repo'"),
        ('kind = "github"\nrepo = "acme"\n', "'acme' is not OWNER/NAME"),
        ('kind = "github"\nrepo = "a/b"\ntoken = "ghp_x"\n', "looks like a secret"),
        ('kind = "gitea"\n', "unknown forge 'gitea'"),
        ('kind = "github"\nrepo = "a/b"\ndraft = "yes"\n', "forge.draft must be true or false"),
    ]:
        (calc_repo / "overnight.toml").write_text(OVERNIGHT_TOML + "\n[forge]\n" + table)
        commit_all(calc_repo, "forge")
        spec = mul_spec(agent(tmp_path))
        with pytest.raises(ConfigError, match=says) as caught:
            submit_text(store, spec.read_text(), source=spec.name, base_dir=spec.parent)
        assert "\n" not in str(caught.value)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0


SECRET = "hook-secret-for-tests"


def deliver_hook(url: str, event: str, payload: dict, delivery: str, secret: str = SECRET):
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
    }
    return httpx.post(f"{url}/api/hooks/github", content=body, headers=headers, timeout=60)


def comment_payload(number: int, body: str, author: str) -> dict:
    return {
        "action": "created",
        "repository": {"full_name": "acme/calc"},
        "issue": {"number": number, "pull_request": {}},
        "comment": {"body": body, "user": {"login": author}},
    }


def test_webhooks_review_from_github_and_feed_failing_ci_back(
    store, mul_spec, hub, tmp_path, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_GITHUB_WEBHOOK_SECRET", SECRET)
    hub.add_user("visitor", repo="acme/calc", permission="read")
    hub.add_user("lead", repo="acme/calc", permission="admin")
    task_id = ready(store, mul_spec, tmp_path)
    with background(create_app(store, WebConfig(poll=0.05))) as url:
        # unsigned, wrongly signed, replayed: refused, nothing done
        wrong = deliver_hook(
            url, "issue_comment", comment_payload(1, "/overnight approve", "lead"), "d0", "x"
        )
        assert wrong.status_code == 401 and "bad signature" in wrong.json()["detail"]

        said = deliver_hook(
            url, "issue_comment", comment_payload(1, "/overnight approve", "visitor"), "d1"
        )
        assert said.json() == {
            "done": ["#1: visitor has no write access: /overnight approve ignored"]
        }
        assert detail(store, task_id)["status"] == TaskStatus.READY

        # CI fails on the delivered commit: its checks become the next run's feedback
        sha = detail(store, task_id)["head_sha"]
        hub.add_check("acme/calc", sha, "ci", "failure", summary="test_mul_negative FAILED")
        suite = {
            "action": "completed",
            "repository": {"full_name": "acme/calc"},
            "check_suite": {"head_sha": sha},
        }
        ci = deliver_hook(url, "check_suite", suite, "d2")
        assert ci.json()["done"] == [f"task {task_id}: run 2 queued with the failing checks (ci)"]
        replay = deliver_hook(url, "check_suite", suite, "d2")
        assert replay.status_code == 409  # acted on once
        drain(store)
        assert detail(store, task_id)["status"] == TaskStatus.READY
        feedback = (tmp_path / "agent-feedback.txt").read_text()
        assert (
            "CI checks failed on the pull request" in feedback and "test_mul_negative" in feedback
        )

        done = deliver_hook(
            url, "issue_comment", comment_payload(1, "/overnight approve", "lead"), "d3"
        )
        assert done.json()["done"][0].startswith(f"#1: task {task_id} merged as ")
    assert detail(store, task_id)["status"] == TaskStatus.MERGED
    assert hub.comments("acme/calc", 1)[-1].startswith(f"task {task_id} merged as ")


def test_a_gitlab_project_end_to_end_with_its_webhooks(
    store, mul_spec, calc_repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_GITLAB_WEBHOOK_SECRET", SECRET)
    with GitLabServer(tmp_path / "gitlab") as lab:
        forge = (
            f'\n[forge]\nkind = "gitlab"\nrepo = "acme/calc"\napi_url = "{lab.api_url}"\n'
            f'git_url = "{lab.url}"\ntoken_env = "{TOKEN_ENV}"\n'
        )
        (calc_repo / "overnight.toml").write_text(OVERNIGHT_TOML + forge)
        commit_all(calc_repo, "deliver to GitLab")
        lab.add_project("acme/calc", source=calc_repo)
        monkeypatch.setenv(TOKEN_ENV, lab.add_user("bot", project="acme/calc", access=MAINTAINER))
        lab.add_user("lead", project="acme/calc", access=MAINTAINER)
        task_id = ready(store, mul_spec, tmp_path)
        [mr] = lab.merge_requests("acme/calc")
        assert (
            mr["source_branch"] == detail(store, task_id)["branch"]
            and "## Evidence" in mr["description"]
        )
        sha = detail(store, task_id)["head_sha"]

        with background(create_app(store, WebConfig(poll=0.05))) as url:

            def hook(event: str, payload: dict, token: str = SECRET) -> httpx.Response:
                headers = {**gitlab_hooks.headers(token, event), "Content-Type": "application/json"}
                return httpx.post(
                    f"{url}/api/hooks/gitlab", json=payload, headers=headers, timeout=60
                )

            failed = lab.add_pipeline(
                "acme/calc",
                sha,
                [Job("test", "failed", "FAILED test_mul_zero")],
                ref=mr["source_branch"],
            )
            assert (
                hook(
                    "Pipeline Hook", gitlab_hooks.pipeline(lab, "acme/calc", failed), "wrong"
                ).status_code
                == 401
            )
            done = hook("Pipeline Hook", gitlab_hooks.pipeline(lab, "acme/calc", failed)).json()[
                "done"
            ]
            assert done == [f"task {task_id}: run 2 queued with the failing checks (test)"]
            drain(store)
            assert "FAILED test_mul_zero" in (tmp_path / "agent-feedback.txt").read_text()

            # a labelled issue, by webhook, on the clone the project's tasks run on
            iid = lab.open_issue(
                "acme/calc", "Add mul", ISSUE_FORM, user="lead", labels=["overnight"]
            )
            done = hook("Issue Hook", gitlab_hooks.issue(lab, "acme/calc", iid)).json()["done"]
            assert done == [f"issue #{iid}: overnight: queued as task {task_id + 1}"]
            said = lab.notes("acme/calc", "issues", iid)
            assert said[0].startswith(f"overnight: queued as task {task_id + 1}")

            note = lab.note(
                "acme/calc", "merge_requests", mr["iid"], "/overnight approve", user="lead"
            )
            done = hook(
                "Note Hook", gitlab_hooks.note(lab, "acme/calc", "merge_requests", mr["iid"], note)
            ).json()["done"]
            assert done[0].startswith(f"#{mr['iid']}: task {task_id} merged as ")
        assert detail(store, task_id)["status"] == TaskStatus.MERGED
        [mr] = lab.merge_requests("acme/calc")
        assert mr["state"] == "merged"


def test_a_pull_request_closed_by_a_human_is_not_reopened_by_the_next_run(
    store, mul_spec, hub, tmp_path
):
    task_id = ready(store, mul_spec, tmp_path)
    hub.close_pull("acme/calc", 1)  # someone closed it on GitHub
    request_changes(store, task_id, "also handle floats")
    drain(store)
    task = detail(store, task_id)
    assert task["status"] == TaskStatus.FAILED
    assert task["failure_reason"].startswith("deliver: pull request #1 was closed on github")
    assert f"overnight retry {task_id}" in task["failure_reason"]
    assert len(hub.calls("POST", r"/repos/acme/calc/pulls")) == 1  # no second pull request


ISSUE_FORM = (
    "### What should change\n\nAdd `mul(a, b)` to calc.py.\n\n"
    "### Acceptance tests\n\ntests/test_mul.py::test_mul\n"
)


def test_a_labelled_issue_delivered_by_webhook_is_queued_on_the_repository_s_clone(
    store, mul_spec, hub, tmp_path, calc_repo, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_GITHUB_WEBHOOK_SECRET", SECRET)
    hub.add_user("dev", repo="acme/calc", permission="write")
    number = hub.open_issue("acme/calc", "Add mul", ISSUE_FORM, user="dev", labels=["overnight"])
    issue = {
        "number": number,
        "title": "Add mul",
        "body": ISSUE_FORM,
        "user": {"login": "dev"},
        "labels": [{"name": "overnight"}],
        "html_url": f"{hub.url}/acme/calc/issues/{number}",
    }
    payload = {"action": "labeled", "repository": {"full_name": "acme/calc"}, "issue": issue}
    with background(create_app(store, WebConfig(poll=0.05))) as url:
        early = deliver_hook(url, "issues", payload, "i1").json()["done"]
        assert early == [
            f"issue #{number}: no task of acme/calc here yet: run "
            "'overnight intake github acme/calc' once where its clone is"
        ]
        first = ready(store, mul_spec, tmp_path)  # now a task delivers to acme/calc
        done = deliver_hook(url, "issues", payload, "i2").json()["done"]
        assert done == [f"issue #{number}: overnight: queued as task {first + 1}"]
        assert deliver_hook(url, "issues", payload, "i3").json()["done"] == [
            f"issue #{number}: nothing new"
        ]
    task = detail(store, first + 1)
    assert (task["repo"], task["instance_id"]) == (str(calc_repo), f"github:acme/calc#{number}")
    assert len(hub.comments("acme/calc", number)) == 1


def test_a_delivery_that_could_not_be_acted_on_can_be_redelivered(
    store, mul_spec, hub, tmp_path, monkeypatch
):
    monkeypatch.setenv("OVERNIGHT_GITHUB_WEBHOOK_SECRET", SECRET)
    hub.add_user("lead", repo="acme/calc", permission="admin")
    task_id = ready(store, mul_spec, tmp_path)
    approve_comment = comment_payload(1, "/overnight approve", "lead")
    with background(create_app(store, WebConfig(poll=0.05))) as url:
        hub.spend_rate_limit(10)  # GitHub keeps refusing: the forge is unavailable
        failed = deliver_hook(url, "issue_comment", approve_comment, "r1")
        assert failed.status_code >= 500 and "rate limit" in failed.json()["detail"]
        assert detail(store, task_id)["status"] == TaskStatus.READY
        hub.spend_rate_limit(0)
        again = deliver_hook(url, "issue_comment", approve_comment, "r1")  # GitHub redelivers
        assert again.status_code == 200, again.text
        assert again.json()["done"][0].startswith(f"#1: task {task_id} merged as ")
