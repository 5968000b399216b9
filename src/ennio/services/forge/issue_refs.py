"""Does an issue reference belong to a project's tracker? And which GitHub repository a project names.

``ennio spawn --issue`` accepts ``42``, ``#42``, ``owner/repo#42``, a GitHub issue URL, ``ENG-123`` or a
Linear URL (:mod:`ennio.core.issue_ref`). Before anything is fetched, the reference is checked against
the project's tracker: a Linear identifier on a GitHub project, an issue of another repository, a URL
of another GitHub host or a pull request URL is a clear error instead of a confusing lookup failure.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ennio.core.config import GitHubSCMConfig, GitHubTrackerConfig, ProjectConfig
from ennio.core.errors import ConfigError, InvalidInput
from ennio.core.issue_ref import IssueRef

_SLUG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}", re.ASCII)
_GITHUB_FORMS = "42, #42, owner/repo#42 or https://github.com/owner/repo/issues/42"


def github_repo_slug(text: str | None) -> str | None:
    """``owner/repo`` from ``owner/repo`` or a clone/web URL; ``None`` when it cannot be read."""
    if not text:
        return None
    raw = text.strip()
    if _SLUG.fullmatch(raw):
        return raw
    path = raw
    if "://" in raw:
        path = urlsplit(raw).path
    elif ":" in raw:  # git@github.com:owner/repo.git
        path = raw.split(":", 1)[1]
    parts = [p for p in path.removesuffix(".git").split("/") if p]
    if len(parts) < 2:
        return None
    slug = "/".join(parts[:2]) if "://" in raw and len(parts) > 2 else "/".join(parts[-2:])
    return slug if _SLUG.fullmatch(slug) else None


def configured_github_repo(project: ProjectConfig) -> str | None:
    """The ``owner/repo`` the project's GitHub tracker or SCM names in the configuration (no git lookup)."""
    candidates: list[str | None] = []
    if isinstance(project.tracker, GitHubTrackerConfig):
        candidates.append(project.tracker.repo)
    if isinstance(project.scm, GitHubSCMConfig):
        candidates.append(project.scm.repo)
    candidates.append(project.repo)
    for candidate in candidates:
        slug = github_repo_slug(candidate)
        if slug is not None:
            return slug
    return None


def web_host(api_base_url: str) -> str:
    """The web host of a GitHub REST base URL: ``api.github.com`` → ``github.com``; GHE keeps its host."""
    host = (urlsplit(api_base_url).netloc or "").lower()
    return "github.com" if host == "api.github.com" else host


def issue_display(key: str) -> str:
    """``42`` → ``#42``; other keys (``ENG-1``, ``owner/repo#4``) as they are."""
    return f"#{key}" if key.isdigit() else key


def check_ref_fits(ref: IssueRef, project: ProjectConfig, given: str) -> str:
    """The tracker key to fetch for ``ref``, or a one-line error when it is not an issue of this project."""
    tracker = project.tracker
    shown = given.strip()[:80]
    if tracker is None:
        raise ConfigError(
            f"project {project.pid!r} has no tracker, so --issue {shown!r} cannot be looked up",
            hint="add a tracker to the project (tracker: {provider: local|github|linear}) or use --prompt",
        )
    if ref.kind == "pull":
        raise InvalidInput(
            f"{shown!r} is a pull request, not an issue", hint="give the issue the work is for (its number or URL)"
        )
    if tracker.provider == "linear":
        if ref.provider == "github":
            raise InvalidInput(
                f"{shown!r} is a GitHub issue, but project {project.pid!r} tracks its issues in Linear",
                hint="give a Linear issue: ENG-123 or https://linear.app/<workspace>/issue/ENG-123",
            )
        if ref.provider is None:
            raise InvalidInput(
                f"{shown!r} is not a Linear issue identifier (project {project.pid!r} tracks its issues in Linear)",
                hint="Linear issues are named like ENG-123",
            )
        return ref.key
    if tracker.provider == "github":
        if ref.provider == "linear":
            raise InvalidInput(
                f"{shown!r} is a Linear issue, but project {project.pid!r} tracks its issues on GitHub",
                hint=f"give a GitHub issue: {_GITHUB_FORMS}",
            )
        repo = configured_github_repo(project)
        if ref.repo_slug and repo and ref.repo_slug.lower() != repo.lower():
            raise InvalidInput(
                f"{shown!r} is an issue of {ref.repo_slug}, but project {project.pid!r} tracks the issues of {repo}",
                hint="spawn it in the project of that repository, or give an issue of this one",
            )
        host = web_host(tracker.base_url)
        if ref.host and host and ref.host != host:
            raise InvalidInput(
                f"{shown!r} is on {ref.host}, but project {project.pid!r} uses the GitHub at {host}",
                hint="give an issue of the project's own GitHub (or just its number)",
            )
        return ref.key
    if ref.provider is not None:
        raise InvalidInput(
            f"{shown!r} is a {'Linear' if ref.provider == 'linear' else 'GitHub'} issue, but project "
            f"{project.pid!r} keeps its issues in the repository ({tracker.provider} tracker)",
            hint="give the number of one of its issues (see `ennio issue list`)",
        )
    return ref.key
