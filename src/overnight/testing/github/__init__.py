"""A GitHub on loopback: the REST API's wire format and git over smart HTTP.

No hosted forge can be reached from a test, so this server answers the part of
GitHub's REST API that overnight uses (pull requests, issues, comments, labels,
merges, check runs, commit statuses, permissions) with the shapes GitHub's
published OpenAPI description gives (tests validate both directions against
githubkit's schema models), its pagination (``per_page``/``page`` and ``Link``),
its errors (401, 403, 404, 405, 409, 422 with ``message`` and ``errors``) and its
primary rate limit (``x-ratelimit-*`` headers, 403 when spent). Repositories are
real bare git repositories, pushed to and fetched from over HTTP by real git
(``githttp.py``); merges are made with git. Webhook payloads are signed like
GitHub's (``sign``)::

    with GitHubServer(tmp_path) as hub:
        hub.add_repo("acme/app", source=repo)
        token = hub.add_user("dev", permission="write", repo="acme/app")
        ...  # [forge] kind = "github", api_url = hub.url, git_url = hub.url
        assert hub.pulls("acme/app")[0]["state"] == "open"
"""

from overnight.testing.github.hooks import sign
from overnight.testing.github.server import GitHubServer, Page, Request
from overnight.testing.github.state import ApiError, Issue, Pull, Repo

__all__ = ["ApiError", "GitHubServer", "Issue", "Page", "Pull", "Repo", "Request", "sign"]
