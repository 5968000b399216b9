from pathlib import Path

import pytest

from ennio.core.config import ProjectConfig
from ennio.core.errors import ConfigError
from ennio.plugins._github.repo import RepoRef, parse_repo, resolve_repo
from tests.helpers.git import git, make_repo


@pytest.mark.parametrize(
    "text",
    [
        "acme/widgets",
        "https://github.com/acme/widgets",
        "https://github.com/acme/widgets.git",
        "git@github.com:acme/widgets.git",
        "ssh://git@ghe.example.com:2222/acme/widgets.git",
        "https://github.com/acme/widgets/pull/12",
        "https://token@github.com/acme/widgets/",
    ],
)
def test_parse_repo_accepts_names_and_urls(text: str) -> None:
    assert parse_repo(text) == RepoRef("acme", "widgets")


@pytest.mark.parametrize("text", ["widgets", "acme/", "a/b/c", "acme/wid gets", "acme/..", "https://github.com/acme"])
def test_parse_repo_rejects_what_is_not_a_repo(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a GitHub repository"):
        parse_repo(text)


async def test_repo_comes_from_config_then_project_then_origin_never_the_project_id(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "checkout")
    git(path, "remote", "add", "origin", "git@github.com:acme/storefront.git")
    project = ProjectConfig(name="web", path=path)
    assert await resolve_repo(None, project) == RepoRef("acme", "storefront")
    assert await resolve_repo(None, project.model_copy(update={"repo": "acme/site"})) == RepoRef("acme", "site")
    assert await resolve_repo("other/thing", project) == RepoRef("other", "thing")


async def test_no_repo_and_no_remote_is_a_config_error(tmp_path: Path) -> None:
    project = ProjectConfig(name="web", path=make_repo(tmp_path / "bare-bones"))
    with pytest.raises(ConfigError, match="names no GitHub repository"):
        await resolve_repo(None, project)
