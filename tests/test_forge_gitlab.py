"""The gitlab forge against the GitLab fake: real git over HTTP, the REST v4 wire
format checked against the shapes GitLab documents (``gitlab_shapes.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from gitlab_shapes import check_all, check_hook, check_response

from overnight.errors import ConfigError, ForgeError, ForgeUnavailable
from overnight.forges.gitlab import GitLabForge, GitLabSettings
from overnight.testing import commit_all, make_repo
from overnight.testing.gitlab import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    GitLabServer,
    Job,
    Page,
    hooks,
    project_ref,
)
from overnight.workspace.git import git

OPENED: list[GitLabForge] = []
APP = "acme/app"


@pytest.fixture
def lab(tmp_path: Path):
    with GitLabServer(tmp_path / "gitlab") as server:
        yield server
    while OPENED:
        OPENED.pop().disconnect()


@pytest.fixture
def work(tmp_path: Path, lab: GitLabServer) -> Path:
    repo = make_repo(tmp_path / "app", {"app.py": "def f():\n    return 1\n"})
    lab.add_project(APP, source=repo)
    return repo


def change(work: Path, text: str, name: str = "app.py") -> str:
    (work / name).write_text(text)
    return commit_all(work, "change")


def forge(lab: GitLabServer, token: str, repo: str = APP, **settings) -> GitLabForge:
    waits: list[float] = []
    made = GitLabForge(
        GitLabSettings(repo, api_url=lab.api_url, git_url=lab.url, **settings),
        token,
        sleep=waits.append,
    )
    made.waits = waits  # type: ignore[attr-defined]
    OPENED.append(made)
    return made


def test_delivery_pushes_the_branch_and_opens_one_merge_request_per_branch(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    gl = forge(lab, token)
    sha = change(work, "def f():\n    return 2\n")
    first = gl.deliver(work, branch="overnight/task-1", base="main", sha=sha, title="T", body="B1")
    assert first.opened and first.pushed and first.number == 1
    assert first.url == f"{lab.url}/acme/app/-/merge_requests/1"
    assert git(["rev-parse", "refs/heads/overnight/task-1"], lab.projects[APP].path) == sha

    again = gl.deliver(work, branch="overnight/task-1", base="main", sha=sha, title="T", body="B1")
    assert (again.number, again.opened, again.pushed) == (1, False, False)

    newer = change(work, "def f():\n    return 3\n")
    later = gl.deliver(
        work, branch="overnight/task-1", base="main", sha=newer, title="T", body="B2"
    )
    assert (later.number, later.opened, later.pushed) == (1, False, True)
    [mr] = lab.merge_requests(APP)
    assert (mr["description"], mr["sha"], mr["labels"], mr["state"]) == (
        "B2",
        newer,
        ["overnight"],
        "opened",
    )
    assert len(lab.calls("POST", r"/projects/acme%2Fapp/merge_requests")) == 1
    assert len(lab.calls("PUT", r"/projects/acme%2Fapp/merge_requests/1")) == 1
    assert check_all(lab) == 5


class Racing(GitLabForge):
    """Finds nothing the first time: the merge request is opened between its look and
    its POST (a crash after the POST, or another worker)."""

    looked = False

    def find(self, branch: str, base: str):
        if not self.looked:
            self.looked = True
            return None
        return super().find(branch, base)


def test_a_merge_request_opened_meanwhile_is_updated_not_duplicated(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    sha = change(work, "x = 1\n")
    forge(lab, token).deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    settings = GitLabSettings(APP, api_url=lab.api_url, git_url=lab.url)
    with Racing(settings, token) as racing:
        again = racing.deliver(work, branch="b", base="main", sha=sha, title="T2", body="B")
    assert (again.number, again.opened) == (1, False)
    [mr] = lab.merge_requests(APP)
    assert mr["title"] == "T2"
    assert len(lab.calls("POST", r"/projects/acme%2Fapp/merge_requests")) == 2


def test_a_draft_stays_a_draft_across_deliveries(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    gl = forge(lab, token, draft=True)
    sha = change(work, "x = 1\n")
    gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B2")
    [mr] = lab.merge_requests(APP)
    assert (mr["title"], mr["draft"], mr["detailed_merge_status"]) == (
        "Draft: T",
        True,
        "draft_status",
    )


def test_the_token_never_reaches_a_url_an_argument_or_the_repository(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    gl = forge(lab, token)
    gl.deliver(work, branch="b", base="main", sha=change(work, "x = 1\n"), title="T", body="B")
    config = (work / ".git" / "config").read_text()
    assert token not in config and "extraHeader" not in config
    assert token not in repr(gl) and token not in repr(gl.settings)
    assert all(token not in json.dumps(r.params) for r in lab.requests)


def test_a_subgroup_project_is_named_by_its_full_path(lab, tmp_path):
    repo = make_repo(tmp_path / "deep", {"a.py": "a = 1\n"})
    lab.add_project("acme/platform/api", source=repo)
    token = lab.add_user("bot", project="acme/platform/api", access=DEVELOPER)
    gl = forge(lab, token, repo="acme/platform/api")
    sha = change(repo, "a = 2\n", "a.py")
    pr = gl.deliver(repo, branch="b", base="main", sha=sha, title="T", body="B")
    assert pr.url.endswith("/acme/platform/api/-/merge_requests/1")
    assert lab.calls("POST", r"/projects/acme%2Fplatform%2Fapi/merge_requests")
    numeric = lab.projects["acme/platform/api"].id
    assert lab.answer("GET", f"/projects/{numeric}/merge_requests/1", {}, "bot")["iid"] == 1
    assert project_ref("acme/platform/api") == "acme%2Fplatform%2Fapi"
    with pytest.raises(ConfigError, match="is not GROUP/NAME"):
        GitLabSettings("app")


def test_approve_merges_at_the_exact_sha_and_the_merge_checks_are_gitlab_s(lab, work):
    token = lab.add_user("bot", project=APP, access=MAINTAINER)
    gl = forge(lab, token)
    sha = change(work, "def f():\n    return 2\n")
    pr = gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    lab.require(APP, pipeline=True)
    lab.add_pipeline(APP, sha, [Job("test", "failed", "test_f FAILED\n")], ref="b")

    with pytest.raises(ForgeError, match=r"refused to merge merge request !1: .*ci_must_pass"):
        gl.merge(pr.number, sha=sha)
    lab.add_pipeline(APP, sha, [Job("test", "success")], ref="b")
    with pytest.raises(ForgeError, match="SHA does not match HEAD of source branch"):
        gl.merge(pr.number, sha="0" * 40)
    merged = gl.merge(pr.number, sha=sha, title="T (!1)")
    project = lab.projects[APP]
    assert git(["rev-parse", "refs/heads/main"], project.path) == merged
    assert git(["log", "-1", "--format=%s", "refs/heads/main^2"], project.path) == "T (!1)"
    assert git(["show", "refs/heads/main:app.py"], project.path) == "def f():\n    return 2"
    assert gl.state(pr.number) == "merged"
    mr = lab.merge_requests(APP)[0]
    assert (mr["merge_commit_sha"], mr["squash"]) == (merged, False)
    assert mr["squash_commit_sha"] == git(["rev-parse", "refs/heads/main^2"], project.path)
    assert check_all(lab) >= 6


def test_a_merge_commit_without_squash_keeps_the_delivered_commit(lab, work):
    token = lab.add_user("bot", project=APP, access=MAINTAINER)
    gl = forge(lab, token, merge_method="merge")
    sha = change(work, "y = 1\n")
    pr = gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    merged = gl.merge(pr.number, sha=sha)
    assert git(["rev-parse", f"{merged}^2"], lab.projects[APP].path) == sha


def test_conflicts_and_a_protected_branch_are_refusals_that_say_what_to_do(lab, work):
    developer = lab.add_user("dev", project=APP, access=DEVELOPER)
    gl = forge(lab, developer)
    sha = change(work, "def f():\n    return 2\n")
    pr = gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    lab.protect(APP, "main", merge_access=MAINTAINER)
    with pytest.raises(ForgeError, match="may not merge into the target branch") as caught:
        gl.merge(pr.number, sha=sha)
    assert caught.value.status == 401 and "\n" not in str(caught.value)

    lab.protect(APP, "main", merge_access=DEVELOPER)
    main = git(["rev-parse", "main"], lab.projects[APP].path)
    git(["checkout", "-q", "-b", "other", main], work)
    other = change(work, "def f():\n    return 9\n")
    git(["push", "-q", str(lab.projects[APP].path), f"{other}:refs/heads/main"], work)
    with pytest.raises(ForgeError, match="Branch cannot be merged") as caught:
        gl.merge(pr.number, sha=sha)
    assert caught.value.status == 406
    assert lab.merge_requests(APP)[0]["detailed_merge_status"] == "conflict"


def test_reject_closes_with_the_reason(lab, work):
    token = lab.add_user("bot", project=APP, access=MAINTAINER)
    gl = forge(lab, token)
    pr = gl.deliver(work, branch="b", base="main", sha=change(work, "y = 2\n"), title="T", body="B")
    gl.close(pr.number, "the spec was wrong")
    assert gl.state(pr.number) == "closed"
    assert lab.notes(APP, "merge_requests", pr.number) == ["the spec was wrong"]
    with pytest.raises(ForgeError, match="refused to merge merge request !1: .*not_open"):
        gl.merge(pr.number, sha="0" * 40)


def test_a_wrong_token_is_one_line_naming_where_the_token_comes_from(lab, work):
    lab.add_user("bot", project=APP)
    gl = forge(lab, "glpat-wrong-token-value")
    with pytest.raises(ForgeError) as caught:
        gl.find("b", "main")
    message = str(caught.value)
    assert "401" in message and "$GITLAB_TOKEN" in message and "\n" not in message
    assert "glpat-wrong-token-value" not in message
    with pytest.raises(ForgeError, match="refused the push") as pushed:
        gl.push(work, change(work, "z = 1\n"), "b")
    assert "glpat-wrong-token-value" not in str(pushed.value)


def test_a_missing_permission_and_a_missing_project_say_what_to_do(lab, work):
    reporter = lab.add_user("reporter", project=APP, access=REPORTER)
    gl = forge(lab, reporter)
    with pytest.raises(ForgeError, match="lacks a permission: give it the api scope, and the Dev"):
        gl.close(1, "")
    with pytest.raises(ForgeError, match="refused the push: .*403.*Developer role"):
        gl.push(work, change(work, "z = 1\n"), "b")
    guest = lab.add_user("guest", project=APP, access=GUEST)
    with pytest.raises(ForgeError, match="403"):
        forge(lab, guest).find("b", "main")
    stranger = lab.add_user("stranger")
    with pytest.raises(ForgeError, match="404 Project Not Found; not found: check"):
        forge(lab, stranger).find("b", "main")
    with pytest.raises(ForgeError, match="no GitLab token: set \\$GITLAB_TOKEN"):
        GitLabForge(GitLabSettings(APP), "")


def test_a_spent_rate_limit_is_waited_out_then_reported_as_unavailable(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    gl = forge(lab, token)
    lab.spend_rate_limit(2, retry_after=3)
    assert gl.find("b", "main") is None
    assert gl.waits == [3.0, 3.0]
    lab.spend_rate_limit(10)
    with pytest.raises(ForgeUnavailable, match="429 .*rate limit spent"):
        gl.find("b", "main")


def test_unreachable_gitlab_is_unavailable_not_a_verdict(tmp_path):
    settings = GitLabSettings(
        APP, api_url="http://127.0.0.1:9/api/v4", git_url="http://127.0.0.1:9"
    )
    with (
        GitLabForge(settings, "t", sleep=lambda s: None) as gl,
        pytest.raises(ForgeUnavailable, match="cannot be reached"),
    ):
        gl.find("b", "main")
    repo = make_repo(tmp_path / "r", {"a": "1\n"})
    with pytest.raises(ForgeUnavailable, match="git server cannot be reached"):
        GitLabForge(settings, "t").push(repo, git(["rev-parse", "HEAD"], repo), "b")


def test_permission_maps_gitlab_access_levels(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    for name, level in [("owner", OWNER), ("maint", MAINTAINER), ("rep", REPORTER), ("g", GUEST)]:
        lab.add_user(name, project=APP, access=level)
    lab.add_user("outsider")
    gl = forge(lab, token)
    assert [
        gl.permission(u) for u in ("owner", "maint", "bot", "rep", "g", "outsider", "nobody")
    ] == [
        "admin",
        "admin",
        "write",
        "read",
        "read",
        "none",
        "none",
    ]


def test_a_failed_pipeline_is_read_back_as_a_check_with_its_log_tail(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    gl = forge(lab, token)
    sha = change(work, "z = 3\n")
    gl.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    lab.add_pipeline(APP, sha, [Job("test", "failed", "old run")], ref="b")
    log = "section_start:1:step_script\r\x1b[0K\x1b[32;1m$ pytest\x1b[0;m\n" + "ok\n" * 2000
    log += "FAILED tests/test_app.py::test_f - assert 3 == 2\n"
    lab.add_pipeline(
        APP,
        sha,
        [
            Job("lint", "success", stage="check"),
            Job("test", "failed", log),
            Job("flaky", "failed", "boom", allow_failure=True),
            Job("deploy", "manual", stage="deploy"),
        ],
        ref="b",
    )
    lab.add_status(APP, sha, "external-ci", "running", "building")

    checks = {c.name: c for c in gl.checks(sha)}
    assert {n: c.state for n, c in checks.items()} == {
        "lint": "success",
        "test": "failure",
        "flaky": "neutral",
        "deploy": "neutral",
        "external-ci": "pending",
    }
    summary = checks["test"].summary
    assert summary.startswith("stage test, script_failure\n(cut)")
    assert summary.endswith("FAILED tests/test_app.py::test_f - assert 3 == 2")
    assert "\x1b" not in summary and len(summary) <= 2100 and "old run" not in summary
    assert checks["test"].url.startswith(f"{lab.url}/acme/app/-/jobs/")
    assert checks["external-ci"].summary == "building"


def test_the_fake_answers_in_gitlab_s_shapes_with_pagination(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    for n in range(7):
        lab.open_issue(APP, f"issue {n}", "body", user="bot", labels=["overnight", "bug"])
    lab.open_issue(APP, "unlabelled", "body", user="bot", labels=[])
    sha = change(work, "z = 3\n")
    pr = forge(lab, token).deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    lab.note(APP, "merge_requests", pr.number, "looks good", user="bot")
    lab.note(APP, "issues", 1, "taking it", user="bot")
    pipeline = lab.add_pipeline(APP, sha, [Job("test", "failed", "log")], ref="b")
    lab.add_status(APP, sha, "lint", "failed", "2 errors")
    bot = lab.users["bot"].id
    ref = project_ref(APP)
    checked = 0
    for method, path, query in [
        ("GET", "/users", {"username": "bot"}),
        ("GET", f"/projects/{ref}/merge_requests", {"state": "all"}),
        ("GET", f"/projects/{ref}/merge_requests/{pr.number}", {}),
        ("GET", f"/projects/{ref}/merge_requests/{pr.number}/notes", {}),
        ("GET", f"/projects/{ref}/issues", {"labels": "overnight,bug"}),
        ("GET", f"/projects/{ref}/issues/1", {}),
        ("GET", f"/projects/{ref}/issues/1/notes", {}),
        ("GET", f"/projects/{ref}/repository/commits/{sha}/statuses", {}),
        ("GET", f"/projects/{ref}/pipelines", {"sha": sha}),
        ("GET", f"/projects/{ref}/pipelines/{pipeline.id}/jobs", {}),
        ("GET", f"/projects/{ref}/members/all/{bot}", {}),
    ]:
        answer = lab.answer(method, path, query, "bot")
        checked += check_response(
            method, path, answer.items if isinstance(answer, Page) else answer
        )
    assert checked >= 18

    page = lab.answer("GET", f"/projects/{ref}/issues", {"per_page": "3", "labels": "bug"}, "bot")
    headers = dict(page.headers)
    assert len(page.items) == 3 and (headers["X-Total"], headers["X-Next-Page"]) == ("7", "2")
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    issues = list(
        forge(lab, token).api.pages(f"/projects/{ref}/issues", {"labels": "bug", "per_page": 3})
    )
    assert [i["iid"] for i in issues] == list(range(7, 0, -1))


def test_the_wire_speaks_gitlab_s_errors_and_headers(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    api = f"{lab.api_url}/projects/{project_ref(APP)}"
    with httpx.Client() as client:
        refused = client.get(f"{api}/merge_requests", headers={"PRIVATE-TOKEN": "nope"})
        assert (refused.status_code, refused.json()) == (401, {"message": "401 Unauthorized"})
        bearer = client.get(f"{api}/merge_requests", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200 and bearer.headers["RateLimit-Remaining"] == "1999"
        missing = client.post(f"{api}/merge_requests", headers={"PRIVATE-TOKEN": token}, json={})
        assert (missing.status_code, missing.json()) == (400, {"error": "source_branch is missing"})
        lab.spend_rate_limit(1, retry_after=7)
        limited = client.get(f"{api}/merge_requests", headers={"PRIVATE-TOKEN": token})
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
        assert limited.headers["RateLimit-Remaining"] == "0"


def test_webhooks_carry_the_secret_token_and_gitlab_s_payloads(lab, work):
    token = lab.add_user("bot", project=APP, access=DEVELOPER)
    sha = change(work, "z = 3\n")
    pr = forge(lab, token).deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    issue = lab.open_issue(APP, "Add f", "spec", user="bot", labels=["overnight"])
    written = lab.note(APP, "merge_requests", pr.number, "/overnight approve", user="bot")
    pipeline = lab.add_pipeline(APP, sha, [Job("test", "failed", "log")], ref="b")
    payloads = [
        hooks.issue(lab, APP, issue),
        hooks.merge_request(lab, APP, pr.number, action="update"),
        hooks.note(lab, APP, "merge_requests", pr.number, written),
        hooks.pipeline(lab, APP, pipeline),
    ]
    assert [check_hook(payload) for payload in payloads] == list(hooks.EVENTS)
    assert payloads[0]["object_attributes"]["labels"][0]["title"] == "overnight"
    assert payloads[2]["object_attributes"]["note"] == "/overnight approve"
    assert payloads[2]["merge_request"]["iid"] == pr.number
    assert payloads[3]["builds"][0]["status"] == "failed"
    assert payloads[3]["merge_request"]["source_branch"] == "b"
    json.dumps(payloads)  # what a hook posts is JSON

    headers = hooks.headers("s3cret", hooks.EVENTS["note"])
    assert (headers["X-Gitlab-Token"], headers["X-Gitlab-Event"]) == ("s3cret", "Note Hook")
    again = hooks.headers("s3cret", "Note Hook")
    assert headers["X-Gitlab-Event-UUID"] != again["X-Gitlab-Event-UUID"]
