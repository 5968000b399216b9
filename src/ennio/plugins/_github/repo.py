"""Which GitHub repository a project means: ``owner/repo`` from config or the origin URL.

Never from the project id: a project called ``web`` may live in ``acme/storefront``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ennio.core import proc as _proc
from ennio.core.config import ProjectConfig
from ennio.core.errors import ConfigError

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# https://host/owner/repo(.git), ssh://git@host(:port)/owner/repo(.git), git@host:owner/repo(.git)
_URL_RE = re.compile(r"^(?:[a-z+]+://(?:[^@/]+@)?[^/]+/|[^@/\s]+@[^:/\s]+:)(?P<path>[^\s]+?)(?:\.git)?/?$")


@dataclass(frozen=True, slots=True)
class RepoRef:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_repo(text: str) -> RepoRef:
    """``owner/repo``, an https/ssh clone URL or a GitHub web URL → :class:`RepoRef`."""
    raw = text.strip()
    path = raw
    match = _URL_RE.match(raw)
    if match:
        path = match.group("path")
    parts = [p for p in path.split("/") if p]
    if match and len(parts) > 2:
        parts = parts[-2:] if raw.endswith(".git") else parts[:2]
    if len(parts) != 2 or not all(_NAME_RE.fullmatch(p) for p in parts) or parts[1] in (".", ".."):
        raise ConfigError(
            f"{text!r} is not a GitHub repository",
            hint="write it as owner/repo (for example acme/widgets) or give its clone URL",
        )
    name = parts[1][:-4] if parts[1].endswith(".git") else parts[1]
    return RepoRef(parts[0], name)


async def origin_url(path: Path, remote: str = "origin") -> str | None:
    """The URL of ``remote`` in the repository at ``path``, or None if there is none."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", remote):
        raise ConfigError(f"git remote name {remote!r} is not valid")
    result = await _proc.run(["git", "remote", "get-url", remote], cwd=path, check=False, timeout=15)
    url = result.stdout.strip()
    return url if result.ok and url else None


async def resolve_repo(configured: str | None, project: ProjectConfig, remote: str = "origin") -> RepoRef:
    """The repository: the plugin's ``repo``, else the project's ``repo``, else the remote's URL."""
    for candidate in (configured, project.repo):
        if candidate:
            return parse_repo(candidate)
    url = await origin_url(project.path, remote)
    if url is None:
        raise ConfigError(
            f"project {project.pid!r} names no GitHub repository and {project.path} has no {remote!r} remote",
            hint="set repo: owner/name on the project",
        )
    return parse_repo(url)
