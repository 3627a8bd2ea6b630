"""A GitLab on loopback: the REST API v4 wire format and git over smart HTTP.

No hosted forge can be reached from a test, so this server answers the part of
GitLab's REST API v4 that overnight uses, under ``/api/v4``, with the shapes
GitLab documents (``shapes.py``; ``tests/gitlab_shapes.py`` pins them): projects by
numeric id or URL-encoded path (``group%2Fsub%2Fname``), merge requests (``iid``
within the project, ``state`` opened|closed|merged|locked, ``detailed_merge_status``,
merges with ``sha``/``squash`` and GitLab's 405/406/409 refusals), notes on merge
requests and issues, labels as comma-separated strings, issues with a ``labels``
filter, commit statuses, pipelines and their jobs (with traces), members' access
levels. Authentication is a ``PRIVATE-TOKEN`` header or ``Authorization: Bearer``;
pagination is ``page``/``per_page`` with ``Link``, ``X-Next-Page`` and ``X-Total``;
the rate limit is announced in ``RateLimit-*`` headers and refused with 429 and
``Retry-After``. Repositories are real bare git repositories served over HTTP by
real git (``githttp.py``, Basic auth ``oauth2:TOKEN``); merges are made with git.
Webhooks carry the hook's secret in ``X-Gitlab-Token`` (``hooks.py`` makes their
headers and payloads)::

    with GitLabServer(tmp_path) as lab:
        lab.add_project("acme/app", source=repo)
        token = lab.add_user("dev", project="acme/app", access=DEVELOPER)
        ...  # [forge] kind = "gitlab", api_url = lab.api_url, git_url = lab.url
        assert lab.merge_requests("acme/app")[0]["state"] == "opened"
"""

from overnight.testing.gitlab import hooks
from overnight.testing.gitlab.server import GitLabServer, Page, Request, project_ref
from overnight.testing.gitlab.state import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    OWNER,
    REPORTER,
    ApiError,
    Issue,
    Job,
    MergeRequest,
    Pipeline,
    Project,
)

__all__ = [
    "DEVELOPER",
    "GUEST",
    "MAINTAINER",
    "OWNER",
    "REPORTER",
    "ApiError",
    "GitLabServer",
    "Issue",
    "Job",
    "MergeRequest",
    "Page",
    "Pipeline",
    "Project",
    "Request",
    "hooks",
    "project_ref",
]
