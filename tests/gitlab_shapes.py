"""GitLab's documented shapes, pinned: no schema package for GitLab's REST API v4
is published, so this table holds, for each endpoint overnight uses, the request
parameters GitLab's API documentation lists (what overnight sends must use only
those) and the fields its documented answer always has (what the fake answers
must have), with the enumerations GitLab documents for their values."""

from __future__ import annotations

import re
from typing import Any

from overnight.testing.gitlab import GitLabServer

USER = {"id", "username", "name", "state", "avatar_url", "web_url"}
MERGE_REQUEST = {
    "id",
    "iid",
    "project_id",
    "title",
    "description",
    "state",
    "created_at",
    "updated_at",
    "merged_by",
    "merged_at",
    "closed_by",
    "closed_at",
    "target_branch",
    "source_branch",
    "author",
    "labels",
    "draft",
    "merge_status",
    "detailed_merge_status",
    "sha",
    "merge_commit_sha",
    "squash_commit_sha",
    "source_project_id",
    "target_project_id",
    "references",
    "web_url",
    "squash",
    "has_conflicts",
}
ONE_MERGE_REQUEST = MERGE_REQUEST | {"diff_refs", "head_pipeline", "merge_error", "user"}
NOTE = {
    "id",
    "type",
    "body",
    "author",
    "created_at",
    "updated_at",
    "system",
    "noteable_id",
    "noteable_type",
    "noteable_iid",
    "project_id",
    "resolvable",
    "confidential",
    "internal",
}
ISSUE = {
    "id",
    "iid",
    "project_id",
    "title",
    "description",
    "state",
    "created_at",
    "updated_at",
    "closed_at",
    "labels",
    "author",
    "type",
    "web_url",
    "references",
}
STATUS = {
    "id",
    "sha",
    "ref",
    "status",
    "name",
    "target_url",
    "description",
    "created_at",
    "started_at",
    "finished_at",
    "allow_failure",
    "coverage",
    "author",
}
PIPELINE = {"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "web_url"}
JOB = {
    "id",
    "status",
    "stage",
    "name",
    "ref",
    "tag",
    "allow_failure",
    "created_at",
    "started_at",
    "finished_at",
    "duration",
    "user",
    "commit",
    "pipeline",
    "web_url",
    "failure_reason",
}
MEMBER = USER | {"access_level", "expires_at"}
HOOK = {"object_kind", "event_type", "user", "project", "object_attributes", "repository"}
HOOK_PROJECT = {"id", "name", "web_url", "git_http_url", "path_with_namespace", "default_branch"}
# object_kind -> the fields of its object_attributes, and what else the payload carries
HOOK_ATTRIBUTES: dict[str, tuple[set[str], set[str]]] = {
    "issue": (ISSUE - {"author", "type", "web_url", "references"} | {"url", "action"}, {"labels"}),
    "merge_request": (
        {"id", "iid", "title", "description", "state", "source_branch", "target_branch"}
        | {"author_id", "url", "action", "last_commit", "detailed_merge_status", "labels"},
        {"labels", "changes"},
    ),
    "note": (
        {"id", "note", "noteable_type", "noteable_id", "author_id", "url", "system"},
        {"project_id"},
    ),
    "pipeline": (
        {"id", "iid", "ref", "sha", "status", "source", "stages", "url"},
        {"merge_request", "commit", "builds"},
    ),
}

PAGE = {"page", "per_page"}
MR_LIST = {"state", "labels", "source_branch", "target_branch", "order_by", "sort", "scope"}
MR_CREATE = {
    "source_branch",
    "target_branch",
    "title",
    "description",
    "labels",
    "assignee_ids",
    "reviewer_ids",
    "remove_source_branch",
    "squash",
    "milestone_id",
    "allow_collaboration",
}
MR_UPDATE = {
    "title",
    "description",
    "state_event",
    "labels",
    "add_labels",
    "remove_labels",
    "target_branch",
    "squash",
    "remove_source_branch",
    "discussion_locked",
}
MR_MERGE = {
    "sha",
    "squash",
    "squash_commit_message",
    "merge_commit_message",
    "should_remove_source_branch",
    "merge_when_pipeline_succeeds",
    "auto_merge",
}
P = r"/projects/[^/]+"
# (method, path pattern) -> (parameters GitLab documents, answer's fields, answer is a list)
ENDPOINTS: dict[tuple[str, str], tuple[set[str], set[str], bool]] = {
    ("GET", r"/users"): ({"username", "search"} | PAGE, USER, True),
    ("GET", P + r"/merge_requests"): (MR_LIST | PAGE, MERGE_REQUEST, True),
    ("POST", P + r"/merge_requests"): (MR_CREATE, ONE_MERGE_REQUEST, False),
    ("GET", P + r"/merge_requests/\d+"): (set(), ONE_MERGE_REQUEST, False),
    ("PUT", P + r"/merge_requests/\d+"): (MR_UPDATE, ONE_MERGE_REQUEST, False),
    ("PUT", P + r"/merge_requests/\d+/merge"): (MR_MERGE, ONE_MERGE_REQUEST, False),
    ("GET", P + r"/(merge_requests|issues)/\d+/notes"): ({"sort", "order_by"} | PAGE, NOTE, True),
    ("POST", P + r"/(merge_requests|issues)/\d+/notes"): ({"body", "internal"}, NOTE, False),
    ("GET", P + r"/issues"): ({"labels", "state", "order_by", "sort"} | PAGE, ISSUE, True),
    ("GET", P + r"/issues/\d+"): (set(), ISSUE, False),
    ("GET", P + r"/repository/commits/[0-9a-f]+/statuses"): (
        {"ref", "stage", "name", "pipeline_id", "all"} | PAGE,
        STATUS,
        True,
    ),
    ("GET", P + r"/pipelines"): (
        {"sha", "ref", "status", "order_by", "sort"} | PAGE,
        PIPELINE,
        True,
    ),
    ("GET", P + r"/pipelines/\d+/jobs"): ({"scope", "include_retried"} | PAGE, JOB, True),
    ("GET", P + r"/members/all/\d+"): (set(), MEMBER, False),
}
ENUMS = {
    "state": {"opened", "closed", "merged", "locked", "active", "blocked"},
    "detailed_merge_status": {
        "approvals_syncing",
        "checking",
        "ci_must_pass",
        "ci_still_running",
        "conflict",
        "discussions_not_resolved",
        "draft_status",
        "mergeable",
        "need_rebase",
        "not_approved",
        "not_open",
        "preparing",
        "requested_changes",
        "unchecked",
    },
    "merge_status": {"unchecked", "checking", "can_be_merged", "cannot_be_merged"},
    "status": {
        "created",
        "waiting_for_resource",
        "preparing",
        "pending",
        "running",
        "success",
        "failed",
        "canceled",
        "skipped",
        "manual",
        "scheduled",
    },
    "noteable_type": {"Issue", "MergeRequest", "Commit", "Snippet"},
    "access_level": {0, 5, 10, 20, 30, 40, 50},
}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _endpoint(method: str, path: str) -> tuple[set[str], set[str], bool] | None:
    for (verb, pattern), shape in ENDPOINTS.items():
        if verb == method and re.fullmatch(pattern, path):
            return shape
    return None


def check_request(method: str, path: str, params: dict[str, Any]) -> None:
    """Raise if overnight sent ``method path`` a parameter GitLab does not document."""
    shape = _endpoint(method, path)
    if shape is not None:
        unknown = set(params) - shape[0]
        assert not unknown, f"{method} {path}: parameters GitLab does not know: {unknown}"


def check_object(item: Any, fields: set[str]) -> None:
    assert isinstance(item, dict), item
    missing = fields - set(item)
    assert not missing, f"fields GitLab documents are missing: {missing}"
    for name, allowed in ENUMS.items():
        if name in item and item[name] is not None:
            assert item[name] in allowed, f"{name}={item[name]!r} is not one of GitLab's"
    for name, value in item.items():
        if name.endswith("_at") and value is not None:
            assert TIMESTAMP.fullmatch(value), f"{name}={value!r} is not ISO 8601"
    for name in ("id", "iid", "project_id"):
        if name in item:
            assert isinstance(item[name], int), f"{name} must be an integer"
    if "labels" in item:
        assert all(isinstance(label, str) for label in item["labels"]), "labels are names"
    if "author" in item:
        check_object(item["author"], USER)


def check_response(method: str, path: str, answer: Any) -> int:
    """Check an answer against its documented fields; the number of objects checked."""
    shape = _endpoint(method, path)
    if shape is None:
        return 0
    items = answer if shape[2] else [answer]
    for item in items:
        check_object(item, shape[1])
    return len(items)


def check_all(lab: GitLabServer) -> int:
    """Every request overnight sent to ``lab`` checked; how many had a known endpoint."""
    known = 0
    for request in lab.requests:
        check_request(request.method, request.path, request.params)
        known += _endpoint(request.method, request.path) is not None
    return known


def check_hook(payload: dict[str, Any]) -> str:
    """Check a webhook payload's documented fields; its ``object_kind``."""
    missing = HOOK - set(payload)
    assert not missing, f"fields GitLab's hooks carry are missing: {missing}"
    kind = payload["object_kind"]
    attributes, extra = HOOK_ATTRIBUTES[kind]
    assert not attributes - set(payload["object_attributes"]), kind
    assert not extra - set(payload), kind
    assert not HOOK_PROJECT - set(payload["project"]), kind
    assert not {"id", "username", "name"} - set(payload["user"]), kind
    if kind == "note":
        assert {"merge_request", "issue"} & set(payload), "a note names what it is on"
    return kind
