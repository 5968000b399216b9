"""``ennio init``: detect the repository you are in and write a commented starter ``ennio.yaml``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ennio.core.errors import Conflict, InvalidId, MissingTool
from ennio.core.ids import slugify, validate_branch_name
from ennio.services.config.loader import CONFIG_NAMES, load_config_text

_GITHUB_URL_RE = re.compile(
    r"""^(?:
        https?://(?:[^@/]+@)?github\.com/        # https://github.com/o/n, https://token@github.com/o/n
      | (?:ssh://)?git@github\.com[:/](?:\d+/)?  # git@github.com:o/n, ssh://git@github.com/o/n
      | git://github\.com/
    )
    (?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class RepoInfo:
    """What ``ennio init`` learnt about the git repository it runs in."""

    root: Path
    origin_url: str | None
    #: ``owner/name`` when origin is a GitHub URL
    github_repo: str | None
    default_branch: str

    @property
    def name(self) -> str:
        return self.root.name


def github_repo_from_url(url: str) -> str | None:
    """``owner/name`` of a GitHub remote URL (https, ssh or scp-like), else ``None``."""
    match = _GITHUB_URL_RE.match(url.strip())
    if match is None or match.group("name") in (".", ".."):
        return None
    return f"{match.group('owner')}/{match.group('name')}"


async def detect_repo(cwd: Path) -> RepoInfo | None:
    """The git repository containing ``cwd``, its origin and default branch; ``None`` outside one."""
    from ennio.core.proc import run

    async def git(*args: str) -> str | None:
        result = await run(["git", *args], cwd=cwd, check=False, timeout=20)
        return result.stdout.strip() if result.ok and result.stdout.strip() else None

    try:
        top = await git("rev-parse", "--show-toplevel")
    except MissingTool:
        return None
    if top is None:
        return None
    origin = await git("remote", "get-url", "origin")
    branch = None
    remote_head = await git("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote_head and remote_head.startswith("origin/"):
        branch = remote_head.removeprefix("origin/")
    if not branch:
        branch = await git("symbolic-ref", "--quiet", "--short", "HEAD")
    try:
        branch = validate_branch_name(branch or "main")
    except InvalidId:
        branch = "main"
    return RepoInfo(
        root=Path(top),
        origin_url=origin,
        github_repo=github_repo_from_url(origin) if origin else None,
        default_branch=branch,
    )


def _q(value: str) -> str:
    """A YAML double-quoted scalar that the loader reads back as exactly ``value`` (``$`` escaped)."""
    dumped: str = yaml.safe_dump(value.replace("$", "$$"), default_style='"', allow_unicode=True, width=10**6)
    return dumped.strip()


_HEADER = """\
# Ennio configuration, written by `ennio init`.
# Check it with `ennio config validate`; `ennio config schema` prints the JSON Schema for editors,
# and README.md ("Configuration reference") lists every key.
# ${VAR} and ${VAR:-default} are read from the environment; write $$ for a literal $.

# Where Ennio keeps its database, logs and workspaces (default: your user data folder).
# data_dir: ~/.local/share/ennio
# Default: SQLite in data_dir. A PostgreSQL URL lets several Ennio instances share state.
# database_url: postgresql://ennio@127.0.0.1:5432/ennio
# Also publish every event to NATS:
# nats_url: nats://127.0.0.1:4222

# server:
#   host: 127.0.0.1          # the HTTP API stays on loopback unless api_token is set
#   port: 8642
#   api_token: ${ENNIO_API_TOKEN}

defaults:
  agent: claude-code         # claude-code, codex, aider, opencode or script
  runtime: tmux              # tmux or process
  workspace: worktree        # worktree or clone
"""

_FOOTER = """
# notifiers:
#   desktop:
#     type: desktop
#   team:
#     type: slack
#     webhook_url: ${SLACK_WEBHOOK_URL}
# notification_routing:
#   priorities:
#     urgent: ["*"]
#     critical: ["*"]

# The nine built-in reactions always apply; override only the keys you want to change.
# reactions:
#   ci-failed:
#     retries: 5
#     escalate_after: 1h
#   approved-and-green:
#     action: auto_merge

# budgets:
#   daily_usd: 50
#   on_exceeded: pause
"""

_PROJECT_OPTIONS = """\
    # session_prefix: {prefix}      # session ids look like {prefix}-1, {prefix}-2, ...
    # max_sessions: 5
    # agent: codex               # this project's agent, instead of defaults.agent
    # post_create:               # commands run in each new workspace
    #   - npm ci
    # copy_files: [.env]         # ignored files copied into each workspace
    # agent_rules: |
    #   Run the tests before you open a pull request.
    # agent_config:
    #   permissions: accept-edits
    #   model: sonnet
"""


def render_starter_config(repo: RepoInfo | None, config_dir: Path) -> str:
    """The text of a starter ``ennio.yaml`` for ``repo`` (or a commented example outside a repo)."""
    if repo is None:
        project = """
# No git repository was found here; describe your projects like this:
projects: []
#  - name: my-app
#    path: ~/src/my-app
#    repo: owner/my-app
#    default_branch: main
#    tracker: {provider: github, token: "${GITHUB_TOKEN}"}
#    scm: {provider: github, token: "${GITHUB_TOKEN}"}
"""
        return _HEADER + project + _FOOTER
    path = "." if repo.root.resolve() == config_dir.resolve() else str(repo.root)
    prefix = slugify(repo.name, 40) or "project"
    lines = [
        "",
        "projects:",
        f"  - name: {_q(repo.name)}",
        f"    path: {_q(path)}",
    ]
    if repo.github_repo:
        lines += [
            f"    repo: {_q(repo.github_repo)}",
            f"    default_branch: {_q(repo.default_branch)}",
            "    tracker:                   # where issues come from",
            "      provider: github",
            "      token: ${GITHUB_TOKEN:-}   # export GITHUB_TOKEN (scopes: repo)",
            "    scm:                       # where pull requests, CI and reviews live",
            "      provider: github",
            "      token: ${GITHUB_TOKEN:-}",
        ]
    else:
        origin = f" (origin: {repo.origin_url})" if repo.origin_url else " (no origin remote)"
        lines += [
            f"    default_branch: {_q(repo.default_branch)}",
            f"    # Not a GitHub repository{origin}: issues are Markdown files in .ennio/issues,",
            "    # pull requests are branches reviewed with `ennio review`, CI is the command below.",
            "    tracker:",
            "      provider: local",
            "    scm:",
            "      provider: local",
            "      # ci_command: make test",
        ]
    return _HEADER + "\n".join(lines) + "\n" + _PROJECT_OPTIONS.format(prefix=prefix) + _FOOTER


def default_target(repo: RepoInfo | None, cwd: Path) -> Path:
    """Where ``ennio init`` writes without ``-c``: the repository's top folder, else here."""
    return (repo.root if repo is not None else cwd) / CONFIG_NAMES[0]


def write_starter_config(target: Path, repo: RepoInfo | None, *, force: bool = False) -> str:
    """Write the starter config to ``target`` (atomically) and return its text.

    Refuses to replace an existing configuration unless ``force``; the text is loaded with the
    real loader before anything is written, so the file always loads cleanly.
    """
    existing = [target] if target.exists() else []
    if target.name in CONFIG_NAMES:
        existing += [p for p in (target.parent / n for n in CONFIG_NAMES) if p != target and p.exists()]
    if existing and not force:
        raise Conflict(
            f"{existing[0]} already exists",
            hint="edit it, or rerun with --force to replace it with a fresh starter",
        )
    text = render_starter_config(repo, target.parent)
    # `${GITHUB_TOKEN:-}` may be unset here; an empty environment shows the file loads anywhere
    load_config_text(text, file=str(target), base_dir=target.parent.resolve(), env={})
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return text
