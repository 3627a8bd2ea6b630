"""Both directions of the GitHub fake checked against GitHub's published OpenAPI
description, through githubkit's schema models: what overnight sends must be a
valid request body (no unknown field), what the fake answers a valid response."""

from __future__ import annotations

import re
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from githubkit_schemas.latest import models

from overnight.testing.github import GitHubServer

# (method, path pattern) -> (request body model or None, response model, response is a list)
ENDPOINTS: dict[tuple[str, str], tuple[Any, Any, bool]] = {
    ("GET", r"/repos/[^/]+/[^/]+/pulls"): (None, models.PullRequestSimple, True),
    ("POST", r"/repos/[^/]+/[^/]+/pulls"): (
        models.ReposOwnerRepoPullsPostBody,
        models.PullRequest,
        False,
    ),
    ("GET", r"/repos/[^/]+/[^/]+/pulls/\d+"): (None, models.PullRequest, False),
    ("PATCH", r"/repos/[^/]+/[^/]+/pulls/\d+"): (
        models.ReposOwnerRepoPullsPullNumberPatchBody,
        models.PullRequest,
        False,
    ),
    ("PUT", r"/repos/[^/]+/[^/]+/pulls/\d+/merge"): (
        models.ReposOwnerRepoPullsPullNumberMergePutBody,
        models.PullRequestMergeResult,
        False,
    ),
    ("POST", r"/repos/[^/]+/[^/]+/issues/\d+/comments"): (
        models.ReposOwnerRepoIssuesIssueNumberCommentsPostBody,
        models.IssueComment,
        False,
    ),
    ("GET", r"/repos/[^/]+/[^/]+/issues/\d+/comments"): (None, models.IssueComment, True),
    ("POST", r"/repos/[^/]+/[^/]+/issues/\d+/labels"): (None, models.Label, True),
    ("GET", r"/repos/[^/]+/[^/]+/issues"): (None, models.Issue, True),
    ("GET", r"/repos/[^/]+/[^/]+/issues/\d+"): (None, models.Issue, False),
    ("GET", r"/repos/[^/]+/[^/]+/commits/.+/check-runs"): (
        None,
        models.ReposOwnerRepoCommitsRefCheckRunsGetResponse200,
        False,
    ),
    ("GET", r"/repos/[^/]+/[^/]+/commits/.+/status"): (None, models.CombinedCommitStatus, False),
    ("GET", r"/repos/[^/]+/[^/]+/collaborators/[^/]+/permission"): (
        None,
        models.RepositoryCollaboratorPermission,
        False,
    ),
}


def check_request(method: str, path: str, body: Any) -> None:
    """Raise if ``body`` is not what GitHub accepts at ``method path``."""
    for (verb, pattern), (request, _, _) in ENDPOINTS.items():
        if verb == method and re.fullmatch(pattern, path) and request is not None:
            unknown = set(body or {}) - {f.alias or n for n, f in request.model_fields.items()}
            assert not unknown, f"{method} {path}: fields GitHub does not know: {unknown}"
            request.model_validate(body)


def check_response(method: str, path: str, answer: Any) -> int:
    """Validate a response against its model; the number of objects checked."""
    for (verb, pattern), (_, response, many) in ENDPOINTS.items():
        if verb == method and re.fullmatch(pattern, path):
            items = answer if many else [answer]
            for item in items:
                response.model_validate(item)
            return len(items)
    return 0


def check_all(hub: GitHubServer) -> int:
    """Every request overnight sent to ``hub`` checked; how many had a known endpoint."""
    known = 0
    for request in hub.requests:
        check_request(request.method, request.path, request.json)
        known += any(
            verb == request.method and re.fullmatch(pattern, request.path)
            for verb, pattern in ENDPOINTS
        )
    return known
