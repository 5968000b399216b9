from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ennio.core.config import GitHubSCMConfig, LocalSCMConfig
from ennio.core.errors import Conflict
from ennio.services.config.loader import load_config
from ennio.services.config.starter import (
    RepoInfo,
    default_target,
    detect_repo,
    github_repo_from_url,
    render_starter_config,
    write_starter_config,
)
from tests.helpers.git import git


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/app.git", "acme/app"),
        ("https://github.com/acme/app", "acme/app"),
        ("https://github.com/acme/app/", "acme/app"),
        ("https://x-access-token:abc@github.com/acme/app.git", "acme/app"),
        ("git@github.com:acme/my.app.git", "acme/my.app"),
        ("ssh://git@github.com/acme/app.git", "acme/app"),
        ("ssh://git@github.com:22/acme/app.git", "acme/app"),
        ("git://github.com/acme/app.git", "acme/app"),
        ("https://gitlab.com/acme/app.git", None),
        ("https://github.com.evil.test/acme/app", None),
        ("https://github.com/acme", None),
        ("https://github.com/acme/app/tree/main", None),
        ("https://github.com/-acme/app", None),
        ("https://github.com/acme/..", None),
        ("/srv/git/app.git", None),
        ("", None),
    ],
)
def test_github_repo_from_url(url: str, repo: str | None) -> None:
    assert github_repo_from_url(url) == repo


def detect(path: Path) -> RepoInfo | None:
    return asyncio.run(detect_repo(path))


def test_detects_a_github_origin_and_its_default_branch(git_repo: Callable[..., Path]) -> None:
    repo = git_repo("app", branch="trunk")
    git(repo, "remote", "add", "origin", "git@github.com:acme/app.git")
    git(repo, "update-ref", "refs/remotes/origin/develop", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop")
    (repo / "src").mkdir()
    info = detect(repo / "src")
    assert info == RepoInfo(repo, "git@github.com:acme/app.git", "acme/app", "develop")
    assert info.name == "app"


def test_falls_back_to_the_current_branch_without_origin_head(git_repo: Callable[..., Path]) -> None:
    repo = git_repo("lib", branch="trunk")
    info = detect(repo)
    assert info == RepoInfo(repo, None, None, "trunk")


def test_outside_a_repository(tmp_path: Path) -> None:
    assert detect(tmp_path) is None


def test_writes_a_github_starter_that_loads(git_repo: Callable[..., Path]) -> None:
    repo = git_repo("app")
    git(repo, "remote", "add", "origin", "https://github.com/acme/app.git")
    info = detect(repo)
    target = default_target(info, repo)
    assert target == repo / "ennio.yaml"
    text = write_starter_config(target, info)
    assert target.read_text() == text
    assert "# Ennio configuration" in text
    config = load_config(target, env={}).config
    project = config.projects[0]
    assert (project.name, project.pid, project.path, project.repo) == ("app", "app", repo, "acme/app")
    assert isinstance(project.scm, GitHubSCMConfig)
    assert project.scm.token is not None and project.scm.token.get_secret_value() == ""
    with_token = load_config(target, env={"GITHUB_TOKEN": "ghp_1"}).config.projects[0].scm
    assert isinstance(with_token, GitHubSCMConfig) and with_token.token is not None
    assert with_token.token.get_secret_value() == "ghp_1"


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "ennio.yaml"
    target.write_text("# mine\n")
    with pytest.raises(Conflict) as info:
        write_starter_config(target, None)
    assert "already exists" in info.value.message
    assert info.value.hint is not None and "--force" in info.value.hint
    assert target.read_text() == "# mine\n"
    write_starter_config(target, None, force=True)
    assert "projects: []" in target.read_text()
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_a_sibling_config_also_blocks(tmp_path: Path) -> None:
    (tmp_path / ".ennio.yaml").write_text("{}\n")
    with pytest.raises(Conflict, match=r"\.ennio\.yaml already exists"):
        write_starter_config(tmp_path / "ennio.yaml", None)
    assert not (tmp_path / "ennio.yaml").exists()


def test_config_elsewhere_points_at_the_repository(tmp_path: Path) -> None:
    info = RepoInfo(tmp_path / "repo", "/srv/git/repo.git", None, "main")
    target = tmp_path / "configs" / "ennio.yaml"
    write_starter_config(target, info)
    project = load_config(target, env={}).config.projects[0]
    assert project.path == tmp_path / "repo"
    assert isinstance(project.scm, LocalSCMConfig)
    assert "origin: /srv/git/repo.git" in target.read_text()


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, branch=st.sampled_from(["main", "trunk", "release/1.x"]), github=st.booleans())
def test_any_repository_name_renders_a_file_that_loads(tmp_path: Path, name: str, branch: str, github: bool) -> None:
    if name in (".", ".."):
        return
    root = tmp_path / name
    info = RepoInfo(root, "git@github.com:o/r.git" if github else None, "o/r" if github else None, branch)
    text = render_starter_config(info, tmp_path)
    from ennio.services.config.loader import load_config_text

    project = load_config_text(text, base_dir=tmp_path, env={}).config.projects[0]
    assert project.name == name
    assert project.path == root
    assert project.default_branch == branch
