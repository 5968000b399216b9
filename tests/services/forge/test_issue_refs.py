"""Which tracker an issue reference fits, and which GitHub repository a project names (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ennio.core.config import ProjectConfig
from ennio.core.errors import ConfigError, InvalidInput
from ennio.core.issue_ref import parse_issue_ref
from ennio.services.forge.issue_refs import (
    check_ref_fits,
    configured_github_repo,
    github_repo_slug,
    issue_display,
    web_host,
)


def project(**values: Any) -> ProjectConfig:
    return ProjectConfig.model_validate({"name": "app", "path": str(Path("/tmp/app")), **values})


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("acme/widgets", "acme/widgets"),
        ("https://github.com/acme/widgets.git", "acme/widgets"),
        ("https://github.com/acme/widgets/issues/3", "acme/widgets"),
        ("git@github.com:acme/widgets.git", "acme/widgets"),
        ("ssh://git@ghe.example.com/acme/widgets", "acme/widgets"),
        ("widgets", None),
        ("", None),
        (None, None),
    ],
)
def test_repo_slugs(text: str | None, slug: str | None) -> None:
    assert github_repo_slug(text) == slug


def test_the_configured_repo_and_web_host() -> None:
    github = {"provider": "github", "repo": "acme/issues"}
    assert configured_github_repo(project(tracker=github, repo="acme/widgets")) == "acme/issues"
    assert configured_github_repo(project(scm={"provider": "github"}, repo="git@github.com:a/b.git")) == "a/b"
    assert configured_github_repo(project(tracker={"provider": "local"})) is None
    assert web_host("https://api.github.com") == "github.com"
    assert web_host("https://ghe.example.com/api/v3") == "ghe.example.com"
    assert issue_display("42") == "#42" and issue_display("ENG-4") == "ENG-4"


def test_github_refs_fit_a_github_tracker() -> None:
    p = project(tracker={"provider": "github", "repo": "acme/widgets"})
    for text in ("42", "#42", "acme/widgets#42", "ACME/Widgets#42", "https://github.com/acme/widgets/issues/42"):
        assert check_ref_fits(parse_issue_ref(text), p, text) == "42"
    ghe = project(tracker={"provider": "github", "repo": "acme/widgets", "base_url": "https://ghe.example.com/api/v3"})
    url = "https://ghe.example.com/acme/widgets/issues/7"
    assert check_ref_fits(parse_issue_ref(url), ghe, url) == "7"
    with pytest.raises(
        InvalidInput, match=r"is on github\.com, but project 'app' uses the GitHub at ghe\.example\.com"
    ):
        check_ref_fits(
            parse_issue_ref("https://github.com/acme/widgets/issues/7"), ghe, "https://github.com/acme/widgets/issues/7"
        )


def test_local_and_missing_trackers() -> None:
    local = project(tracker={"provider": "local"})
    assert check_ref_fits(parse_issue_ref("#3"), local, "#3") == "3"
    with pytest.raises(InvalidInput, match="keeps its issues in the repository"):
        check_ref_fits(parse_issue_ref("ENG-3"), local, "ENG-3")
    with pytest.raises(ConfigError, match="has no tracker"):
        check_ref_fits(parse_issue_ref("3"), project(), "3")
    linear = project(tracker={"provider": "linear"})
    assert check_ref_fits(parse_issue_ref("eng-12"), linear, "eng-12") == "ENG-12"
