from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import EnnioRunner
from tests.helpers.git import git


def test_init_in_a_github_repository(ennio: EnnioRunner, git_repo: Callable[..., Path]) -> None:
    repo = git_repo("shop", branch="trunk")
    git(repo, "remote", "add", "origin", "https://github.com/acme/shop.git")
    (repo / "src").mkdir()
    result = ennio("init", cwd=repo / "src")
    assert result.code == 0, result.stderr
    config = repo / "ennio.yaml"
    assert result.stdout.splitlines()[:2] == [
        f"wrote {config}",
        "project 'shop': acme/shop, default branch trunk",
    ]
    text = config.read_text()
    assert 'repo: "acme/shop"' in text
    assert "provider: github" in text
    assert "token: ${GITHUB_TOKEN:-}" in text
    check = ennio("config", "validate", "--json", cwd=repo / "src", env={"GITHUB_TOKEN": ""})
    assert check.json() == {"file": str(config), "valid": True, "problems": [], "projects": ["shop"]}


def test_init_uses_origin_head_for_the_default_branch(ennio: EnnioRunner, git_repo: Callable[..., Path]) -> None:
    upstream = git_repo("upstream", branch="develop")
    clone = upstream.parent / "clone"
    git(upstream.parent, "clone", "-q", str(upstream), str(clone))
    git(clone, "checkout", "-q", "-b", "feature")
    result = ennio("init", cwd=clone)
    assert result.code == 0, result.stderr
    assert "default branch develop" in result.stdout
    assert "provider: local" in (clone / "ennio.yaml").read_text()
    assert ennio("config", "validate", cwd=clone).code == 0


def test_init_refuses_to_overwrite_without_force(ennio: EnnioRunner, git_repo: Callable[..., Path]) -> None:
    repo = git_repo("app")
    assert ennio("init", cwd=repo).code == 0
    (repo / "ennio.yaml").write_text("# my edits\n")
    again = ennio("init", cwd=repo)
    assert again.code == 4
    assert again.stderr.startswith(f"error: {repo / 'ennio.yaml'} already exists\nhint: ")
    assert (repo / "ennio.yaml").read_text() == "# my edits\n"
    forced = ennio("init", "--force", cwd=repo)
    assert forced.code == 0
    assert (repo / "ennio.yaml").read_text().startswith("# Ennio configuration")


def test_init_with_dash_c_writes_there(ennio: EnnioRunner, git_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = git_repo("app")
    target = tmp_path / "configs" / "app.yaml"
    assert ennio("-c", str(target), "init", cwd=repo).code == 0
    assert f'path: "{repo}"' in target.read_text()
    assert ennio("-c", str(target), "config", "validate").code == 0


def test_init_outside_a_repository(ennio: EnnioRunner, workdir: Path) -> None:
    result = ennio("init")
    assert result.code == 0
    assert "no git repository here" in result.stdout
    assert "projects: []" in (workdir / "ennio.yaml").read_text()
    assert ennio("config", "validate").stdout.endswith("valid (0 projects)\n")
