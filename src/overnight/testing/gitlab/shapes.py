"""GitLab's objects as its REST API v4 documents them: users, merge requests, notes,
issues, pipelines, jobs and commit statuses (``tests/gitlab_shapes.py`` pins the
fields)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from overnight.testing.gitlab.state import (
    Issue,
    Job,
    Json,
    MergeRequest,
    Pipeline,
    Project,
    User,
    now,
)

if TYPE_CHECKING:
    from overnight.testing.gitlab.server import GitLabServer


def user(lab: GitLabServer, username: str) -> Json:
    who = lab.users.get(username) or User(0, username)
    return {
        "id": who.id,
        "username": username,
        "name": username.title(),
        "state": "active",
        "locked": False,
        "avatar_url": f"{lab.url}/uploads/-/system/user/avatar/{who.id}/avatar.png",
        "web_url": f"{lab.url}/{username}",
    }


def merge_request(lab: GitLabServer, p: Project, mr: MergeRequest) -> Json:
    web = f"{lab.url}/{p.path_with_namespace}/-/merge_requests/{mr.iid}"
    head = p.ref(mr.source) or mr.merged_head
    merge_status = p.detailed_merge_status(mr)
    latest = p.latest_pipeline(head)
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": user(lab, mr.merged_by) if mr.merged_by else None,
        "merge_user": user(lab, mr.merged_by) if mr.merged_by else None,
        "merged_at": mr.merged_at,
        "closed_by": user(lab, mr.closed_by) if mr.closed_by else None,
        "closed_at": mr.closed_at,
        "target_branch": mr.target,
        "source_branch": mr.source,
        "user_notes_count": len(p.notes.get(("merge_requests", mr.iid), [])),
        "upvotes": 0,
        "downvotes": 0,
        "author": user(lab, mr.author),
        "assignees": [],
        "assignee": None,
        "reviewers": [],
        "source_project_id": p.id,
        "target_project_id": p.id,
        "labels": list(mr.labels),
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "cannot_be_merged" if merge_status == "conflict" else "can_be_merged",
        "detailed_merge_status": merge_status,
        "sha": head,
        "merge_commit_sha": mr.merge_sha or None,
        "squash_commit_sha": mr.squash_sha or None,
        "discussion_locked": None,
        "should_remove_source_branch": mr.remove_source or None,
        "force_remove_source_branch": mr.remove_source,
        "prepared_at": mr.created_at,
        "reference": f"!{mr.iid}",
        "references": {
            "short": f"!{mr.iid}",
            "relative": f"!{mr.iid}",
            "full": f"{p.path_with_namespace}!{mr.iid}",
        },
        "web_url": web,
        "time_stats": time_stats(),
        "squash": mr.squash,
        "squash_on_merge": mr.squash,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": merge_status == "conflict",
        "blocking_discussions_resolved": True,
        "approvals_before_merge": None,
        "subscribed": False,
        "changes_count": "1",
        "head_pipeline": pipeline(lab, p, latest) if latest else None,
        "pipeline": pipeline(lab, p, latest) if latest else None,
        "diff_refs": {
            "base_sha": p.ref(mr.target),
            "head_sha": head,
            "start_sha": p.ref(mr.target),
        },
        "merge_error": None,
        "first_contribution": False,
        "user": {"can_merge": True},
    }


def pipeline(lab: GitLabServer, p: Project, x: Pipeline) -> Json:
    return {
        "id": x.id,
        "iid": x.iid,
        "project_id": p.id,
        "sha": x.sha,
        "ref": x.ref,
        "status": x.status,
        "source": "push",
        "created_at": x.created_at,
        "updated_at": x.created_at,
        "web_url": f"{lab.url}/{p.path_with_namespace}/-/pipelines/{x.id}",
    }


def job(lab: GitLabServer, p: Project, x: Pipeline, j: Job) -> Json:
    finished = j.status in ("success", "failed", "canceled", "skipped")
    return {
        "id": j.id,
        "status": j.status,
        "stage": j.stage,
        "name": j.name,
        "ref": x.ref,
        "tag": False,
        "coverage": None,
        "allow_failure": j.allow_failure,
        "created_at": x.created_at,
        "started_at": x.created_at if j.status != "created" else None,
        "finished_at": now() if finished else None,
        "erased_at": None,
        "duration": 1.0 if finished else None,
        "queued_duration": 0.1,
        "user": None,
        "commit": {"id": x.sha, "short_id": x.sha[:8]},
        "pipeline": pipeline(lab, p, x),
        "web_url": f"{lab.url}/{p.path_with_namespace}/-/jobs/{j.id}",
        "artifacts": [],
        "runner": None,
        "failure_reason": "script_failure" if j.status == "failed" else None,
    }


def status(lab: GitLabServer, p: Project, sha: str, s: Json, pipeline_id: int | None) -> Json:
    return {
        "id": s["id"],
        "sha": sha,
        "ref": p.default_branch,
        "status": s["status"],
        "name": s["name"],
        "target_url": s.get("target_url"),
        "description": s.get("description") or None,
        "created_at": now(),
        "started_at": now(),
        "finished_at": now(),
        "allow_failure": bool(s.get("allow_failure")),
        "coverage": None,
        "pipeline_id": pipeline_id,
        "author": user(lab, p.path_with_namespace.split("/")[0]),
    }


def issue(lab: GitLabServer, p: Project, i: Issue) -> Json:
    return {
        "id": i.id,
        "iid": i.iid,
        "project_id": p.id,
        "title": i.title,
        "description": i.description,
        "state": i.state,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "closed_by": None,
        "labels": list(i.labels),
        "milestone": None,
        "assignees": [],
        "assignee": None,
        "author": user(lab, i.author),
        "type": "ISSUE",
        "issue_type": "issue",
        "user_notes_count": len(p.notes.get(("issues", i.iid), [])),
        "merge_requests_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "due_date": None,
        "confidential": False,
        "discussion_locked": None,
        "web_url": f"{lab.url}/{p.path_with_namespace}/-/issues/{i.iid}",
        "time_stats": time_stats(),
        "task_completion_status": {"count": 0, "completed_count": 0},
        "references": {
            "short": f"#{i.iid}",
            "relative": f"#{i.iid}",
            "full": f"{p.path_with_namespace}#{i.iid}",
        },
    }


def time_stats() -> Json:
    return {
        "time_estimate": 0,
        "total_time_spent": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
    }
