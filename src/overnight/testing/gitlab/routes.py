"""The REST API v4 endpoints of the GitLab fake, each a function of the server, the
user, the request's parameters (query and JSON body merged, as GitLab merges them)
and the path's groups; it answers a JSON value, ``(status, value)``, a ``Page``
or ``bytes`` (plain text), or raises ``ApiError``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overnight.testing.gitlab import shapes
from overnight.testing.gitlab.state import (
    DEVELOPER,
    GUEST,
    REPORTER,
    ApiError,
    Json,
    MergeRequest,
    Project,
    label_list,
    not_found,
    now,
    true,
)

if TYPE_CHECKING:
    from overnight.testing.gitlab.server import GitLabServer, Page


def required(params: Json, *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise ApiError(400, error=f"{name} is missing")


def _current_user(lab: GitLabServer, user: str, q: Json) -> Json:
    return shapes.user(lab, user)


def _find_users(lab: GitLabServer, user: str, q: Json) -> list[Json]:
    return [
        shapes.user(lab, u.username) for u in lab.users.values() if u.username == q.get("username")
    ]


def _get_project(lab: GitLabServer, user: str, q: Json, ref: str) -> Json:
    p = lab.project_for(ref, user)
    namespace, _, name = p.path_with_namespace.rpartition("/")
    return {
        "id": p.id,
        "name": name,
        "path": name,
        "path_with_namespace": p.path_with_namespace,
        "name_with_namespace": p.path_with_namespace.replace("/", " / "),
        "default_branch": p.default_branch,
        "visibility": "private",
        "web_url": f"{lab.url}/{p.path_with_namespace}",
        "http_url_to_repo": f"{lab.url}/{p.path_with_namespace}.git",
        "namespace": {"full_path": namespace, "path": namespace.split("/")[-1]},
        "only_allow_merge_if_pipeline_succeeds": p.pipeline_must_succeed,
        "merge_method": "merge",
    }


def _list_merge_requests(lab: GitLabServer, user: str, q: Json, ref: str) -> Page:
    p = lab.project_for(ref, user, REPORTER)
    state, source, target = q.get("state", "all"), q.get("source_branch"), q.get("target_branch")
    wanted = label_list(q.get("labels"))
    found = [
        shapes.merge_request(lab, p, mr)
        for mr in sorted(p.merge_requests.values(), key=lambda m: -m.iid)
        if state in ("all", mr.state)
        and source in (None, mr.source)
        and target in (None, mr.target)
        and all(label in mr.labels for label in wanted)
    ]
    return lab.page(f"/projects/{ref}/merge_requests", q, found)


def _create_merge_request(lab: GitLabServer, user: str, q: Json, ref: str) -> tuple[int, Json]:
    p = lab.project_for(ref, user, DEVELOPER)
    required(q, "source_branch", "target_branch", "title")
    source, target = q["source_branch"], q["target_branch"]
    if not p.ref(source) or not p.ref(target):
        missing = "Source branch" if not p.ref(source) else "Target branch"
        raise ApiError(422, [f"{missing} does not exist"])
    for mr in p.merge_requests.values():
        if mr.state == "opened" and (mr.source, mr.target) == (source, target):
            message = f"Another open merge request already exists for this source branch: !{mr.iid}"
            raise ApiError(409, [message])
    mr = MergeRequest(
        next(p.mr_iids),
        q["title"],
        q.get("description") or "",
        source,
        target,
        user,
        label_list(q.get("labels")),
        squash=true(q.get("squash")),
        remove_source=true(q.get("remove_source_branch")),
    )
    p.merge_requests[mr.iid] = mr
    return 201, shapes.merge_request(lab, p, mr)


def _merge_request_of(
    lab: GitLabServer, user: str, ref: str, iid: str, need: int = REPORTER
) -> tuple[Project, MergeRequest]:
    p = lab.project_for(ref, user, need)
    mr = p.merge_requests.get(int(iid))
    if mr is None:
        raise not_found()
    return p, mr


def _get_merge_request(lab: GitLabServer, user: str, q: Json, ref: str, iid: str) -> Json:
    return shapes.merge_request(lab, *_merge_request_of(lab, user, ref, iid))


def _update_merge_request(lab: GitLabServer, user: str, q: Json, ref: str, iid: str) -> Json:
    p, mr = _merge_request_of(lab, user, ref, iid, DEVELOPER)
    if mr.state == "merged" and q.get("state_event"):
        raise ApiError(405, "405 Method Not Allowed")
    mr.title, mr.description = q.get("title", mr.title), q.get("description", mr.description)
    if "labels" in q:
        mr.labels = label_list(q["labels"])
    mr.labels += [x for x in label_list(q.get("add_labels")) if x not in mr.labels]
    if q.get("state_event") == "close" and mr.state == "opened":
        mr.state, mr.closed_at, mr.closed_by = "closed", now(), user
    elif q.get("state_event") == "reopen" and mr.state == "closed":
        mr.state, mr.closed_at, mr.closed_by = "opened", None, ""
    mr.updated_at = now()
    return shapes.merge_request(lab, p, mr)


def _merge_merge_request(lab: GitLabServer, user: str, q: Json, ref: str, iid: str) -> Json:
    p, mr = _merge_request_of(lab, user, ref, iid)
    p.merge(mr, q, user)
    return shapes.merge_request(lab, p, mr)


def _list_notes(lab: GitLabServer, user: str, q: Json, ref: str, kind: str, iid: str) -> Page:
    p = lab.project_for(ref, user, REPORTER if kind == "merge_requests" else GUEST)
    if int(iid) not in (p.merge_requests if kind == "merge_requests" else p.issues):
        raise not_found()
    notes = p.notes.get((kind, int(iid)), [])
    return lab.page(f"/projects/{ref}/{kind}/{iid}/notes", q, notes)


def _add_note(
    lab: GitLabServer, user: str, q: Json, ref: str, kind: str, iid: str
) -> tuple[int, Json]:
    p = lab.project_for(ref, user, REPORTER)
    required(q, "body")
    return 201, lab.write_note(p, kind, int(iid), str(q["body"]), user)


def _list_issues(lab: GitLabServer, user: str, q: Json, ref: str) -> Page:
    p = lab.project_for(ref, user)
    state, wanted = q.get("state", "all"), label_list(q.get("labels"))
    found = [
        shapes.issue(lab, p, i)
        for i in sorted(p.issues.values(), key=lambda i: -i.iid)
        if state in ("all", i.state) and all(label in i.labels for label in wanted)
    ]
    return lab.page(f"/projects/{ref}/issues", q, found)


def _get_issue(lab: GitLabServer, user: str, q: Json, ref: str, iid: str) -> Json:
    p = lab.project_for(ref, user)
    issue = p.issues.get(int(iid))
    if issue is None:
        raise not_found()
    return shapes.issue(lab, p, issue)


def _update_issue(lab: GitLabServer, user: str, q: Json, ref: str, iid: str) -> Json:
    p = lab.project_for(ref, user, REPORTER)
    issue = p.issues.get(int(iid))
    if issue is None:
        raise not_found()
    if "labels" in q:
        issue.labels = label_list(q["labels"])
    issue.labels += [x for x in label_list(q.get("add_labels")) if x not in issue.labels]
    removed = label_list(q.get("remove_labels"))
    issue.labels = [x for x in issue.labels if x not in removed]
    if q.get("state_event") in ("close", "reopen"):
        closing = q["state_event"] == "close"
        issue.state, issue.closed_at = ("closed", now()) if closing else ("opened", None)
    issue.updated_at = now()
    return shapes.issue(lab, p, issue)


def _commit_statuses(lab: GitLabServer, user: str, q: Json, ref: str, sha: str) -> Page:
    """Every job of the commit's pipelines and every external status: the latest of
    each name unless ``all``, as GitLab answers."""
    p = lab.project_for(ref, user, REPORTER)
    found = [
        shapes.status(lab, p, sha, {**shapes.job(lab, p, x, j), "description": None}, x.id)
        for x in p.pipelines
        if x.sha == sha
        for j in x.jobs
    ]
    found += [shapes.status(lab, p, sha, s, None) for s in p.statuses.get(sha, [])]
    if not true(q.get("all")):
        latest = {s["name"]: s for s in found}
        found = [s for s in found if latest[s["name"]] is s]
    return lab.page(f"/projects/{ref}/repository/commits/{sha}/statuses", q, found)


def _list_pipelines(lab: GitLabServer, user: str, q: Json, ref: str) -> Page:
    p = lab.project_for(ref, user, REPORTER)
    found = [
        shapes.pipeline(lab, p, x)
        for x in reversed(p.pipelines)
        if q.get("sha") in (None, x.sha) and q.get("ref") in (None, x.ref)
    ]
    return lab.page(f"/projects/{ref}/pipelines", q, found)


def _pipeline_jobs(lab: GitLabServer, user: str, q: Json, ref: str, pid: str) -> Page:
    p = lab.project_for(ref, user, REPORTER)
    pipeline = next((x for x in p.pipelines if x.id == int(pid)), None)
    if pipeline is None:
        raise not_found()
    jobs = [shapes.job(lab, p, pipeline, j) for j in pipeline.jobs]
    return lab.page(f"/projects/{ref}/pipelines/{pid}/jobs", q, jobs)


def _job_trace(lab: GitLabServer, user: str, q: Json, ref: str, jid: str) -> bytes:
    p = lab.project_for(ref, user, REPORTER)
    job = next((j for x in p.pipelines for j in x.jobs if j.id == int(jid)), None)
    if job is None:
        raise not_found()
    return job.trace.encode()


def _member(lab: GitLabServer, user: str, q: Json, ref: str, uid: str) -> Json:
    p = lab.project_for(ref, user)
    who = next((u for u in lab.users.values() if u.id == int(uid)), None)
    if who is None or p.level(who.username) == 0:
        raise not_found()
    return {
        **shapes.user(lab, who.username),
        "access_level": p.level(who.username),
        "created_at": now(),
        "expires_at": None,
        "membership_state": "active",
    }


P = r"/projects/([^/]+)"
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", r"/user", _current_user),
    ("GET", r"/users", _find_users),
    ("GET", P, _get_project),
    ("GET", P + r"/merge_requests", _list_merge_requests),
    ("POST", P + r"/merge_requests", _create_merge_request),
    ("GET", P + r"/merge_requests/(\d+)", _get_merge_request),
    ("PUT", P + r"/merge_requests/(\d+)", _update_merge_request),
    ("PUT", P + r"/merge_requests/(\d+)/merge", _merge_merge_request),
    ("GET", P + r"/(merge_requests|issues)/(\d+)/notes", _list_notes),
    ("POST", P + r"/(merge_requests|issues)/(\d+)/notes", _add_note),
    ("GET", P + r"/issues", _list_issues),
    ("GET", P + r"/issues/(\d+)", _get_issue),
    ("PUT", P + r"/issues/(\d+)", _update_issue),
    ("GET", P + r"/repository/commits/([0-9a-f]+)/statuses", _commit_statuses),
    ("GET", P + r"/pipelines", _list_pipelines),
    ("GET", P + r"/pipelines/(\d+)/jobs", _pipeline_jobs),
    ("GET", P + r"/jobs/(\d+)/trace", _job_trace),
    ("GET", P + r"/members/all/(\d+)", _member),
]
