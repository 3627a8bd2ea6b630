"""The github forge against the GitHub fake: real git over HTTP, the REST wire
format checked against GitHub's OpenAPI description (githubkit's models)."""

from __future__ import annotations

from pathlib import Path

import pytest
from github_schema import check_all, check_response

from overnight.errors import ForgeError, ForgeUnavailable
from overnight.forges.github import GitHubForge, GitHubSettings
from overnight.testing import commit_all, make_repo
from overnight.testing.github import GitHubServer, Page
from overnight.workspace.git import git

OPENED: list[GitHubForge] = []


@pytest.fixture
def hub(tmp_path: Path):
    with GitHubServer(tmp_path / "github") as server:
        yield server
    while OPENED:
        OPENED.pop().disconnect()


@pytest.fixture
def work(tmp_path: Path, hub: GitHubServer) -> Path:
    repo = make_repo(tmp_path / "app", {"app.py": "def f():\n    return 1\n"})
    hub.add_repo("acme/app", source=repo)
    return repo


def change(work: Path, text: str) -> str:
    (work / "app.py").write_text(text)
    return commit_all(work, "change")


def forge(hub: GitHubServer, token: str, **settings) -> GitHubForge:
    waits: list[float] = []
    made = GitHubForge(
        GitHubSettings("acme/app", api_url=hub.url, git_url=hub.url, **settings),
        token,
        sleep=waits.append,
    )
    made.waits = waits  # type: ignore[attr-defined]
    OPENED.append(made)
    return made


def test_delivery_pushes_the_branch_and_opens_one_pull_request_per_branch(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    sha = change(work, "def f():\n    return 2\n")
    first = gh.deliver(work, branch="overnight/task-1", base="main", sha=sha, title="T", body="B1")
    assert first.opened and first.pushed and first.number == 1
    assert git(["rev-parse", "refs/heads/overnight/task-1"], hub.repos["acme/app"].path) == sha

    again = gh.deliver(work, branch="overnight/task-1", base="main", sha=sha, title="T", body="B1")
    assert (again.number, again.opened, again.pushed) == (1, False, False)

    newer = change(work, "def f():\n    return 3\n")
    later = gh.deliver(
        work, branch="overnight/task-1", base="main", sha=newer, title="T", body="B2"
    )
    assert (later.number, later.opened, later.pushed) == (1, False, True)
    [pull] = hub.pulls("acme/app")
    assert (pull["body"], pull["head"]["sha"], [x["name"] for x in pull["labels"]]) == (
        "B2",
        newer,
        ["overnight"],
    )
    assert len(hub.calls("POST", r"/repos/acme/app/pulls")) == 1
    assert check_all(hub) >= 6


def test_the_token_never_reaches_a_url_an_argument_or_the_repository(hub, work, tmp_path):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    gh.deliver(work, branch="b", base="main", sha=change(work, "x = 1\n"), title="T", body="B")
    config = (work / ".git" / "config").read_text()
    assert token not in config and "extraHeader" not in config
    assert token not in repr(gh)


def test_approve_merges_through_the_api_and_protection_is_github_s(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    sha = change(work, "def f():\n    return 2\n")
    pr = gh.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    hub.protect("acme/app", "main", checks=["ci"])
    hub.add_check("acme/app", sha, "ci", "failure", summary="1 failed", text="test_f FAILED")

    with pytest.raises(ForgeError, match=r'refused to merge pull request #1: .*"ci" is failing'):
        gh.merge(pr.number, sha=sha)
    assert [(c.name, c.state) for c in gh.checks(sha)] == [("ci", "failure")]
    assert "test_f FAILED" in gh.checks(sha)[0].summary

    hub.add_check("acme/app", sha, "ci", "success")
    with pytest.raises(ForgeError, match="Head branch was modified"):
        gh.merge(pr.number, sha="0" * 40)
    merged = gh.merge(pr.number, sha=sha)
    assert git(["rev-parse", "refs/heads/main"], hub.repos["acme/app"].path) == merged
    assert gh.state(pr.number) == "merged"
    assert check_all(hub) >= 5


def test_reject_closes_with_the_reason(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    pr = gh.deliver(work, branch="b", base="main", sha=change(work, "y = 2\n"), title="T", body="B")
    gh.close(pr.number, "the spec was wrong")
    assert gh.state(pr.number) == "closed"
    assert hub.comments("acme/app", pr.number) == ["the spec was wrong"]


def test_a_wrong_token_is_one_line_naming_where_the_token_comes_from(hub, work):
    hub.add_user("bot", repo="acme/app")
    gh = forge(hub, "ghp_wrong_token_value")
    with pytest.raises(ForgeError) as caught:
        gh.find("b", "main")
    message = str(caught.value)
    assert "401" in message and "$GITHUB_TOKEN" in message and "\n" not in message
    assert "ghp_wrong_token_value" not in message


def test_a_missing_permission_and_a_missing_repository_say_what_to_do(hub, work):
    reader = hub.add_user("reader", repo="acme/app", permission="read")
    gh = forge(hub, reader)
    with pytest.raises(ForgeError, match="lacks a permission"):
        gh.comment(1, "hi")
    stranger = hub.add_user("stranger")
    with pytest.raises(ForgeError, match="check the repository's name"):
        forge(hub, stranger).find("b", "main")
    with pytest.raises(ForgeError, match="no GitHub token: set \\$GITHUB_TOKEN"):
        GitHubForge(GitHubSettings("acme/app"), "")


def test_a_spent_rate_limit_is_waited_out_then_reported_as_unavailable(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    hub.spend_rate_limit(2)
    assert gh.find("b", "main") is None
    assert len(gh.waits) == 2 and all(0 < w <= 60 for w in gh.waits)
    hub.spend_rate_limit(10)
    with pytest.raises(ForgeUnavailable, match="rate limit spent"):
        gh.find("b", "main")


def test_unreachable_github_is_unavailable_not_a_verdict(tmp_path):
    settings = GitHubSettings("acme/app", api_url="http://127.0.0.1:9")
    with (
        GitHubForge(settings, "t", sleep=lambda s: None) as gh,
        pytest.raises(ForgeUnavailable, match="cannot be reached"),
    ):
        gh.find("b", "main")


def test_permission_reads_write_access(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    hub.add_user("maintainer", repo="acme/app", permission="admin")
    gh = forge(hub, token)
    assert (gh.permission("maintainer"), gh.permission("nobody")) == ("admin", "none")


def test_the_fake_answers_in_github_s_shapes_with_pagination(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    for n in range(7):
        hub.open_issue("acme/app", f"issue {n}", "body", user="bot", labels=["overnight"])
    sha = change(work, "z = 3\n")
    pr = forge(hub, token).deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    hub.comment("acme/app", pr.number, "looks good", user="bot")
    hub.add_check("acme/app", sha, "ci", "success")
    hub.add_status("acme/app", sha, "lint", "failure", "2 errors")
    checked = 0
    for method, path, query in [
        ("GET", "/repos/acme/app/pulls", {"state": ["all"]}),
        ("GET", f"/repos/acme/app/pulls/{pr.number}", {}),
        ("GET", "/repos/acme/app/issues", {"labels": ["overnight"]}),
        ("GET", "/repos/acme/app/issues/1", {}),
        ("GET", f"/repos/acme/app/issues/{pr.number}/comments", {}),
        ("GET", f"/repos/acme/app/commits/{sha}/check-runs", {}),
        ("GET", f"/repos/acme/app/commits/{sha}/status", {}),
        ("GET", "/repos/acme/app/collaborators/bot/permission", {}),
    ]:
        answer = hub.answer(method, path, query, None, "bot")
        checked += check_response(
            method, path, answer.items if isinstance(answer, Page) else answer
        )
    assert checked >= 14

    page = hub.answer("GET", "/repos/acme/app/issues", {"per_page": ["3"]}, None, "bot")
    assert len(page.items) == 3 and 'rel="next"' in page.link and "page=3" in page.link
    issues = list(forge(hub, token).api.pages("/repos/acme/app/issues", {"per_page": 3}))
    assert [i["number"] for i in issues] == list(range(1, 8))


def test_a_pull_request_that_conflicts_with_its_base_is_not_merged(hub, work):
    token = hub.add_user("bot", repo="acme/app", permission="write")
    gh = forge(hub, token)
    sha = change(work, "def f():\n    return 2\n")
    pr = gh.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    git(["checkout", "--quiet", "-b", "elsewhere", "HEAD~1"], work)
    rival = change(work, "def f():\n    return 9\n")  # the same line, changed otherwise
    base = hub.repos["acme/app"].path
    git(["fetch", "--quiet", str(work), f"{rival}:refs/heads/main"], base)
    before = git(["rev-parse", "refs/heads/main"], base)
    with pytest.raises(ForgeError, match="not mergeable"):
        gh.merge(pr.number, sha=sha)
    assert git(["rev-parse", "refs/heads/main"], base) == before == rival
    assert gh.state(pr.number) == "open"


def test_a_github_app_mints_an_installation_token_for_api_and_git(hub, work, monkeypatch):
    key = hub.add_app(4242, 77, repo="acme/app", permission="write")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", key)
    settings = GitHubSettings(
        "acme/app", api_url=hub.url, git_url=hub.url, app_id=4242, installation_id=77
    )
    with GitHubForge.from_environment(settings) as gh:
        sha = change(work, "def f():\n    return 5\n")
        pr = gh.deliver(work, branch="b", base="main", sha=sha, title="T", body="B")
    [pull] = hub.pulls("acme/app")
    assert pull["user"]["login"] == "app-4242[bot]" and pr.number == pull["number"]
    assert git(["rev-parse", "refs/heads/b"], hub.repos["acme/app"].path) == sha

    wrong = GitHubSettings(
        "acme/app", api_url=hub.url, git_url=hub.url, app_id=4242, installation_id=78
    )
    with pytest.raises(ForgeError, match="404"):
        GitHubForge.from_environment(wrong)
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", "not a key")
    with pytest.raises(ForgeError, match="not a usable RSA private key"):
        GitHubForge.from_environment(settings)
    monkeypatch.delenv("GITHUB_APP_PRIVATE_KEY")
    with pytest.raises(ForgeError, match=r"no GitHub App key: set \$GITHUB_APP_PRIVATE_KEY"):
        GitHubForge.from_environment(settings)
    with pytest.raises(Exception, match="needs both app_id and installation_id"):
        GitHubSettings("acme/app", app_id=1)
