"""REST payloads of the fake GitHub, each checked by githubkit's own model before it is served.

githubkit's models are generated from GitHub's OpenAPI description, so a payload they reject
is one GitHub could not send; :func:`checked` turns that into a server error the test sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from githubkit_schemas.latest import models as gm
from pydantic import TypeAdapter


class ImpossiblePayload(AssertionError):
    """The fake built a payload GitHub's OpenAPI description does not allow."""


def checked(model: Any, payload: Any) -> Any:
    """Validate ``payload`` with githubkit's ``model`` (a class or ``list[...]``) and return it unchanged."""
    try:
        TypeAdapter(model).validate_python(payload)
    except Exception as exc:
        raise ImpossiblePayload(f"payload is not a valid {model}: {exc}") from exc
    return payload


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Urls:
    api: str  # REST base, no trailing slash
    web: str = "https://github.com"


def user(urls: Urls, login: str, uid: int, *, bot: bool = False) -> dict[str, Any]:
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.web}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if bot else "User",
        "site_admin": False,
    }


def _repo_urls(urls: Urls, full: str) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full}"
    return {
        "url": api,
        "html_url": f"{urls.web}/{full}",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": f"git://github.com/{full}.git",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": f"git@github.com:{full}.git",
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": f"https://github.com/{full}.git",
        "mirror_url": None,
        "hooks_url": f"{api}/hooks",
        "svn_url": f"https://github.com/{full}",
    }


def repository(
    urls: Urls, owner: dict[str, Any], name: str, rid: int, *, private: bool, default_branch: str, when: datetime
) -> dict[str, Any]:
    full = f"{owner['login']}/{name}"
    return {
        "id": rid,
        "node_id": f"R_{rid}",
        "name": name,
        "full_name": full,
        "license": None,
        "forks": 0,
        "owner": owner,
        "private": private,
        "description": None,
        "fork": False,
        **_repo_urls(urls, full),
        "homepage": None,
        "language": "Python",
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 108,
        "default_branch": default_branch,
        "open_issues_count": 0,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private" if private else "public",
        "pushed_at": iso(when),
        "created_at": iso(when),
        "updated_at": iso(when),
        "open_issues": 0,
        "watchers": 0,
    }


def full_repository(repo: dict[str, Any]) -> dict[str, Any]:
    return {**repo, "subscribers_count": 1, "network_count": 0}


def label(urls: Urls, full: str, name: str, lid: int) -> dict[str, Any]:
    return {
        "id": lid,
        "node_id": f"LA_{lid}",
        "url": f"{urls.api}/repos/{full}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def milestone(
    urls: Urls, full: str, number: int, title: str, creator: dict[str, Any], when: datetime
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full}/milestones/{number}"
    return {
        "url": api,
        "html_url": f"{urls.web}/{full}/milestone/{number}",
        "labels_url": f"{api}/labels",
        "id": 9000 + number,
        "node_id": f"MI_{number}",
        "number": number,
        "state": "open",
        "title": title,
        "description": None,
        "creator": creator,
        "open_issues": 0,
        "closed_issues": 0,
        "created_at": iso(when),
        "updated_at": iso(when),
        "closed_at": None,
        "due_on": None,
    }


def issue(
    urls: Urls,
    full: str,
    *,
    iid: int,
    number: int,
    title: str,
    body: str,
    state: str,
    author: dict[str, Any],
    labels: list[dict[str, Any]],
    assignees: list[dict[str, Any]],
    milestone_obj: dict[str, Any] | None,
    comments: int,
    created: datetime,
    updated: datetime,
    closed: datetime | None,
    is_pull: bool = False,
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full}/issues/{number}"
    payload: dict[str, Any] = {
        "id": iid,
        "node_id": f"I_{iid}",
        "url": api,
        "repository_url": f"{urls.api}/repos/{full}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{urls.web}/{full}/{'pull' if is_pull else 'issues'}/{number}",
        "number": number,
        "state": state,
        "state_reason": "completed" if state == "closed" else None,
        "title": title,
        "body": body,
        "user": author,
        "labels": labels,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": milestone_obj,
        "locked": False,
        "active_lock_reason": None,
        "comments": comments,
        "closed_at": iso(closed) if closed else None,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "author_association": "OWNER",
    }
    if is_pull:
        web = f"{urls.web}/{full}/pull/{number}"
        payload["pull_request"] = {
            "url": f"{urls.api}/repos/{full}/pulls/{number}",
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "merged_at": None,
        }
    return payload


def _branch_ref(repo: dict[str, Any], owner: dict[str, Any], ref: str, sha: str) -> dict[str, Any]:
    return {"label": f"{owner['login']}:{ref}", "ref": ref, "repo": repo, "sha": sha, "user": owner}


def pull_request_simple(
    urls: Urls,
    repo: dict[str, Any],
    *,
    pid: int,
    number: int,
    title: str,
    body: str,
    state: str,
    draft: bool,
    author: dict[str, Any],
    head_ref: str,
    head_sha: str,
    base_ref: str,
    base_sha: str,
    created: datetime,
    updated: datetime,
    closed: datetime | None,
    merged: datetime | None,
    merge_sha: str | None,
) -> dict[str, Any]:
    full = repo["full_name"]
    api = f"{urls.api}/repos/{full}/pulls/{number}"
    web = f"{urls.web}/{full}/pull/{number}"
    return {
        "url": api,
        "id": pid,
        "node_id": f"PR_{pid}",
        "html_url": web,
        "diff_url": f"{web}.diff",
        "patch_url": f"{web}.patch",
        "issue_url": f"{urls.api}/repos/{full}/issues/{number}",
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{urls.api}/repos/{full}/pulls/comments{{/number}}",
        "comments_url": f"{urls.api}/repos/{full}/issues/{number}/comments",
        "statuses_url": f"{urls.api}/repos/{full}/statuses/{head_sha}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": author,
        "body": body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "closed_at": iso(closed) if closed else None,
        "merged_at": iso(merged) if merged else None,
        "merge_commit_sha": merge_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch_ref(repo, repo["owner"], head_ref, head_sha),
        "base": _branch_ref(repo, repo["owner"], base_ref, base_sha),
        "_links": {
            "self": {"href": api},
            "html": {"href": web},
            "issue": {"href": f"{urls.api}/repos/{full}/issues/{number}"},
            "comments": {"href": f"{urls.api}/repos/{full}/issues/{number}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": f"{urls.api}/repos/{full}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": f"{urls.api}/repos/{full}/statuses/{head_sha}"},
        },
        "author_association": "OWNER",
        "auto_merge": None,
        "draft": draft,
    }


def pull_request(
    simple: dict[str, Any],
    *,
    merged: bool,
    mergeable: bool | None,
    merged_by: dict[str, Any] | None,
    comments: int,
    review_comments: int,
) -> dict[str, Any]:
    return {
        **simple,
        "merged": merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": {True: "clean", False: "dirty", None: "unknown"}[mergeable],
        "merged_by": merged_by,
        "comments": comments,
        "review_comments": review_comments,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 10,
        "deletions": 2,
        "changed_files": 1,
    }


def check_run(
    urls: Urls,
    repo: dict[str, Any],
    *,
    cid: int,
    name: str,
    head_sha: str,
    status: str,
    conclusion: str | None,
    details_url: str | None,
    app_slug: str,
    app_owner: dict[str, Any],
    output: dict[str, str | None],
    started: datetime,
    completed: datetime | None,
) -> dict[str, Any]:
    full = repo["full_name"]
    return {
        "id": cid,
        "head_sha": head_sha,
        "node_id": f"CR_{cid}",
        "external_id": str(cid),
        "url": f"{urls.api}/repos/{full}/check-runs/{cid}",
        "html_url": f"{urls.web}/{full}/runs/{cid}",
        "details_url": details_url,
        "status": status,
        "conclusion": conclusion,
        "started_at": iso(started),
        "completed_at": iso(completed) if completed else None,
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": 0,
            "annotations_url": f"{urls.api}/repos/{full}/check-runs/{cid}/annotations",
        },
        "name": name,
        "check_suite": {"id": cid + 100_000},
        "app": {
            "id": 15368 if app_slug == "github-actions" else 4242,
            "slug": app_slug,
            "node_id": f"A_{app_slug}",
            "client_id": f"Iv1.{app_slug[:8]}",
            "owner": app_owner,
            "name": app_slug.replace("-", " ").title(),
            "description": "",
            "external_url": "https://github.com/features/actions",
            "html_url": f"{urls.web}/apps/{app_slug}",
            "created_at": iso(started),
            "updated_at": iso(started),
            "permissions": {"checks": "write"},
            "events": ["check_run"],
        },
        "pull_requests": [],
    }


def commit_status(
    urls: Urls,
    full: str,
    *,
    sid: int,
    context: str,
    state: str,
    target_url: str | None,
    description: str | None,
    when: datetime,
) -> dict[str, Any]:
    return {
        "description": description,
        "id": sid,
        "node_id": f"SC_{sid}",
        "state": state,
        "context": context,
        "target_url": target_url,
        "avatar_url": None,
        "url": f"{urls.api}/repos/{full}/statuses/{sid}",
        "created_at": iso(when),
        "updated_at": iso(when),
    }


def combined_status(urls: Urls, repo: dict[str, Any], sha: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    states = {s["state"] for s in statuses}
    state = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if ("pending" in states or not statuses)
        else "success"
    )
    full = repo["full_name"]
    minimal = {k: repo[k] for k in gm.MinimalRepository.model_fields if k in repo}
    return {
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": minimal,
        "commit_url": f"{urls.api}/repos/{full}/commits/{sha}",
        "url": f"{urls.api}/repos/{full}/commits/{sha}/status",
    }


def review(
    urls: Urls,
    full: str,
    number: int,
    *,
    rid: int,
    author: dict[str, Any],
    body: str,
    state: str,
    commit: str,
    when: datetime,
) -> dict[str, Any]:
    web = f"{urls.web}/{full}/pull/{number}#pullrequestreview-{rid}"
    return {
        "id": rid,
        "node_id": f"PRR_{rid}",
        "user": author,
        "body": body,
        "state": state,
        "html_url": web,
        "pull_request_url": f"{urls.api}/repos/{full}/pulls/{number}",
        "_links": {"html": {"href": web}, "pull_request": {"href": f"{urls.api}/repos/{full}/pulls/{number}"}},
        "submitted_at": iso(when),
        "commit_id": commit,
        "author_association": "MEMBER",
    }


def review_comment(
    urls: Urls,
    full: str,
    number: int,
    *,
    cid: int,
    review_id: int,
    author: dict[str, Any],
    body: str,
    path: str,
    line: int | None,
    commit: str,
    when: datetime,
) -> dict[str, Any]:
    api = f"{urls.api}/repos/{full}/pulls/comments/{cid}"
    web = f"{urls.web}/{full}/pull/{number}#discussion_r{cid}"
    return {
        "url": api,
        "pull_request_review_id": review_id,
        "id": cid,
        "node_id": f"PRRC_{cid}",
        "diff_hunk": "@@ -1,3 +1,3 @@",
        "path": path,
        "position": line,
        "line": line,
        "commit_id": commit,
        "original_commit_id": commit,
        "user": author,
        "body": body,
        "created_at": iso(when),
        "updated_at": iso(when),
        "html_url": web,
        "pull_request_url": f"{urls.api}/repos/{full}/pulls/{number}",
        "author_association": "MEMBER",
        "_links": {
            "self": {"href": api},
            "html": {"href": web},
            "pull_request": {"href": f"{urls.api}/repos/{full}/pulls/{number}"},
        },
    }


def issue_comment(
    urls: Urls, full: str, number: int, *, cid: int, author: dict[str, Any], body: str, when: datetime
) -> dict[str, Any]:
    return {
        "id": cid,
        "node_id": f"IC_{cid}",
        "url": f"{urls.api}/repos/{full}/issues/comments/{cid}",
        "html_url": f"{urls.web}/{full}/issues/{number}#issuecomment-{cid}",
        "body": body,
        "user": author,
        "created_at": iso(when),
        "updated_at": iso(when),
        "issue_url": f"{urls.api}/repos/{full}/issues/{number}",
        "author_association": "OWNER",
    }
