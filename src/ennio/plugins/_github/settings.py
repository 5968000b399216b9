"""Building a :class:`GitHubClient` from a project's config and the plugin context."""

from __future__ import annotations

import asyncio
from typing import Any

from ennio.core.config import GitHubSCMConfig, GitHubTrackerConfig, ProjectConfig
from ennio.core.errors import PluginError
from ennio.core.plugins import PluginContext
from ennio.plugins._github.client import GitHubClient
from ennio.plugins._github.transport import RetryPolicy

#: keys of ``PluginContext.extra`` that tune the client (embedding and tests; config covers users)
RETRY_KEY = "github_retry"
SLEEP_KEY = "github_sleep"


def scm_settings(project: ProjectConfig) -> GitHubSCMConfig:
    return project.scm if isinstance(project.scm, GitHubSCMConfig) else GitHubSCMConfig()


def tracker_settings(project: ProjectConfig) -> GitHubTrackerConfig:
    return project.tracker if isinstance(project.tracker, GitHubTrackerConfig) else GitHubTrackerConfig()


def make_client(
    settings: GitHubSCMConfig | GitHubTrackerConfig,
    ctx: PluginContext,
    error: type[PluginError],
    *,
    fallback: GitHubSCMConfig | None = None,
) -> GitHubClient:
    """A client for ``settings``; a tracker without a token borrows the project's GitHub SCM credentials."""
    token = settings.token
    app = settings.app if isinstance(settings, GitHubSCMConfig) else None
    graphql_url = settings.graphql_url if isinstance(settings, GitHubSCMConfig) else None
    reserve = settings.rate_limit_reserve if isinstance(settings, GitHubSCMConfig) else 0
    if token is None and app is None and fallback is not None and fallback.base_url == settings.base_url:
        token, app, graphql_url = fallback.token, fallback.app, fallback.graphql_url
    extra: dict[str, Any] = ctx.extra
    retry = extra.get(RETRY_KEY)
    sleep = extra.get(SLEEP_KEY) or asyncio.sleep
    return GitHubClient(
        base_url=settings.base_url,
        graphql_url=graphql_url,
        token=token,
        app=app,
        reserve=reserve,
        error=error,
        retry=retry if isinstance(retry, RetryPolicy) else None,
        sleep=sleep,
        now=ctx.clock.now,
    )
